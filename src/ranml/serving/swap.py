"""Hot swap: replace the serving model version without disturbing the serving thread.

A :class:`ModelSlot` holds the active :class:`~ranml.serving.runtime.Predictor`. A new version is
started (session built from the pre-optimised graph with optimisations off, buffers bound, warmed
up) on a background thread while the old one keeps answering; then the reference is swapped in one
assignment. Calls already running hold the old predictor and finish on it; nothing is dropped.

Building a session holds the GIL for about a millisecond, which stalls a call that is running in
the serving thread at that moment. The preparation therefore runs step by step, each step right
after the serving thread finished a call, so it falls into the loop's idle time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from ranml.serving.runtime import Forecast, Predictor

__all__ = ["ModelSlot", "SwapEvent"]

log = logging.getLogger("ranml.serving.swap")


@dataclass(frozen=True)
class SwapEvent:
    """One completed swap."""

    from_version: str
    to_version: str
    prepare_ms: float
    at: float


class ModelSlot:
    """The active model version of one loop, swappable at any time.

    Parameters
    ----------
    predictor
        The first version; started here if it is not yet.
    """

    def __init__(self, predictor: Predictor, idle_wait_s: float = 0.05) -> None:
        self._active = predictor
        self.events: list[SwapEvent] = []
        self._swap_lock = threading.Lock()
        self._idle = threading.Event()
        self.idle_wait_s = idle_wait_s

    @property
    def active(self) -> Predictor:
        """The version answering now."""
        return self._active

    def start(self) -> ModelSlot:
        """Start the first version if needed."""
        if not self._active.started:
            self._active.start()
        return self

    def predict(self, cells: Sequence[str], windows: np.ndarray, deadline_s: float | None = None) -> Forecast:
        """Answer with the active version (read once: a concurrent swap does not split a call)."""
        forecast = self._active.predict(cells, windows, deadline_s)
        self._idle.set()  # a swap in preparation may take its next step now
        return forecast

    def _after_a_call(self) -> None:
        """Wait until the serving thread has just finished a call (bounded: with no traffic, go on)."""
        self._idle.clear()
        self._idle.wait(self.idle_wait_s)

    def swap(self, new: Predictor) -> SwapEvent:
        """Start ``new`` (if needed) in this thread, then make it active."""
        with self._swap_lock:
            t0 = time.perf_counter()
            if not new.started:
                # Each step (session creation, binding, each warm-up call) holds the GIL briefly;
                # taking it right after a call leaves the serving thread's next call undisturbed.
                self._after_a_call()
                for _ in new.start_steps(between=self._after_a_call):
                    self._after_a_call()
            prepare_ms = (time.perf_counter() - t0) * 1e3
            old = self._active
            self._active = new  # one reference assignment: atomic for readers
            event = SwapEvent(old.version, new.version, prepare_ms, time.time())
            self.events.append(event)
        log.info("swapped %s → %s (prepared in %.1f ms)", old.version, new.version, prepare_ms)
        return event

    def swap_in_background(self, new: Predictor) -> Future[SwapEvent]:
        """Prepare and swap on a helper thread; the returned future completes after the swap."""
        future: Future[SwapEvent] = Future()

        def work() -> None:
            try:
                future.set_result(self.swap(new))
            except BaseException as exc:  # handed to the caller through the future
                log.warning("swap to %s failed, keeping %s: %s", new.version, self._active.version, exc)
                future.set_exception(exc)

        threading.Thread(target=work, name=f"ranml-swap-{new.version}", daemon=True).start()
        return future
