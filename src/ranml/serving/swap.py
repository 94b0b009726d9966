"""Hot swap: replace the serving model version without disturbing the serving thread.

A :class:`ModelSlot` holds the active :class:`~ranml.serving.runtime.Predictor`. A new version is
started (session built from the pre-optimised graph with optimisations off, buffers bound, warmed
up) while the old one keeps answering; then the reference is swapped in one assignment. Calls
already running hold the old predictor and finish on it; nothing is dropped.

How the new version is prepared, measured at 1 kHz on this 2-core machine (benchmarks/serving.py):

* With the C-API engine (CPU, the default) and the compiled helpers (``ranml.serving._native``,
  built by ``pip install``) the session is built on a native thread that never takes the GIL; the
  loop's :meth:`ModelSlot.idle` polls it. Without them it is built on the swapping thread through
  ctypes (no GIL while ONNX Runtime works, but the thread needs it to start and to return): the
  build starts right after a serving call, the loop sleeps through its slack while it runs, and
  the swapping thread does nothing else once it is built. The Python binding holds the GIL for
  1–2 ms per build, long enough to miss a 1 ms tick.
* The remaining steps (binding buffers, warm-up runs) are where the serving thread would be
  disturbed: each one run concurrently with a serving call contends for the GIL and the CPU and
  slowed such calls 2–5×. A loop that knows its slack calls :meth:`ModelSlot.idle` while it
  waits; the steps then run *in the serving thread*, one at a time, only while there is time
  before its next call, the swap itself happens there between two calls, and the old version is
  released by a later idle() call with room for it. A loop that never
  calls :meth:`~ModelSlot.idle` gets the steps on the swapping thread, each right after a call.
* :meth:`ModelSlot.submit` leaves every step to the loop's idle() calls and returns at once: no
  other Python thread waits or is woken (the best measured at 1 kHz). :meth:`ModelSlot.swap`
  from another thread does the same and waits; without the compiled helpers it builds on its own
  thread, and submit() builds in an idle() call with room for a whole build (a few ms in a
  process busy serving).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from ranml.errors import RanmlError
from ranml.serving.artefact import ModelManifest
from ranml.serving.runtime import Forecast, Predictor, VersionMetrics

__all__ = ["ModelSlot", "SwapEvent"]

log = logging.getLogger("ranml.serving.swap")

_HANDOFF_SLACK_S = 400e-6  # idle() sleeps only with at least this much time before the next call
_HANDOFF_SLEEP_S = 50e-6
_HANDOFF_MARGIN_S = 300e-6  # a hand-over sleep ends at least this long before the next call
_START_BUILD_COST_S = 200e-6  # starting a session build on a native thread (measured 75–85 µs; 420 µs the first time)
_RELEASE_COST_S = 600e-6  # releasing a swapped-out session (measured 0.1–0.5 ms); idle() needs this much slack


@dataclass(frozen=True)
class SwapEvent:
    """One completed swap."""

    from_version: str
    to_version: str
    prepare_ms: float
    at: float


@dataclass
class _Pending:
    """A version being prepared in the serving loop's idle time."""

    new: Predictor
    steps: Iterator[str]
    t0: float
    step_cost_s: float
    progress_at: float
    first_cost_s: float = 0.0
    retired: Predictor | None = None
    loop_owned: bool = False  # submitted: no thread waits for it, the loop also releases the old version
    off_thread: bool = False  # the session is built on a native thread (its steps poll it)
    done: Future[SwapEvent] = field(default_factory=Future)


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
        self._idle_seen = -1.0  # perf_counter() of the loop's last idle() call
        self._pending: _Pending | None = None
        self._step_lock = threading.Lock()
        self._hand_over = False  # a swapping thread will need the GIL soon: idle() sleeps in its slack
        self._warm_build_s: float | None = None  # a warm build, timed by start()
        self._loop_build_s: float | None = None  # the last build that ran in the loop's idle()
        self._retired: list[Predictor] = []  # versions swapped out in idle(), released by a later idle()
        self._completed: tuple[_Pending, SwapEvent] | None = None  # a swap done in idle(), not yet reported

    @property
    def active(self) -> Predictor:
        """The version answering now."""
        return self._active

    @property
    def version(self) -> str:
        """The active version."""
        return self._active.version

    @property
    def manifest(self) -> ModelManifest:
        """The active version's manifest."""
        return self._active.manifest

    @property
    def metrics(self) -> VersionMetrics:
        """The active version's call metrics (latency, misses, errors)."""
        return self._active.metrics

    def start(self) -> ModelSlot:
        """Start the first version if needed, and time one more (warm) session build.

        The first build in a process also loads libraries; the warm one is what a hot swap's build
        costs, and :meth:`submit` needs it to place the build in the loop's slack.
        """
        if not self._active.started:
            self._active.start()
        self._warm_build_s = self._active.measure_build()
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

    def idle(self, until: float) -> None:
        """Give the slot the serving loop's slack, up to ``time.perf_counter() == until``.

        Call it while waiting for the next call (it returns at once when no swap is pending).
        Pending preparation steps run here one at a time, each only if its estimated cost still
        fits before ``until``; the last one makes the new version active between two calls. The
        swap is reported to the thread waiting for it by a call with 0.4 ms of slack left (a loop
        that never has that much: about a second later, by that thread itself).
        """
        now = self._idle_seen = time.perf_counter()
        if self._retired and until - now > _RELEASE_COST_S:
            self._retired.pop()  # the last reference: its session is released here, in the slack
            now = time.perf_counter()
        if self._completed is not None and until - now > _HANDOFF_SLACK_S:
            self._report_completed()
            now = time.perf_counter()
        pending = self._pending
        if pending is None:
            if self._hand_over and until - now > _HANDOFF_SLACK_S:
                # The swapping thread needs the GIL around its (GIL-free) session build and when it
                # wakes after the swap; sleeping here (until shortly before the next call) hands it
                # over in the slack, rather than by a forced switch that could land in the middle
                # of a call, and leaves the CPU to the build.
                time.sleep(max(_HANDOFF_SLEEP_S, until - now - _HANDOFF_MARGIN_S))
            return
        if not self._step_lock.acquire(blocking=False):
            return
        try:
            while self._pending is pending and time.perf_counter() + pending.step_cost_s < until:
                if self._step(pending, in_loop=True) == "building":
                    break  # the session is being built on a native thread: look again next time
        finally:
            self._step_lock.release()
        if self._completed is not None and until - time.perf_counter() > _HANDOFF_SLACK_S:
            self._report_completed()

    def _report_completed(self) -> None:
        """Complete the future of a swap made active in idle(): wakes the thread waiting for it."""
        if not self._step_lock.acquire(blocking=False):
            return
        try:
            completed, self._completed = self._completed, None
            if completed is not None:
                completed[0].done.set_result(completed[1])
        finally:
            self._step_lock.release()

    def _step(self, pending: _Pending, in_loop: bool) -> str | None:
        """One preparation step of ``pending``; the last one activates it (caller holds the step lock).

        ``in_loop``: called by the serving loop's :meth:`idle` (else by the swapping thread).
        Returns the step's name (``None`` after the last one or a failure).
        """
        try:
            t0 = time.perf_counter()
            done = next(pending.steps)
            if done == "session" and pending.loop_owned and not pending.off_thread:
                self._loop_build_s = time.perf_counter() - t0
            # After the session build the next step (binding) gets the initial short-step estimate;
            # later ones are of the same kind as the one before (warm-up runs get faster, not
            # slower), capped so that one step stretched by the machine does not hold the rest back.
            pending.progress_at = now = time.perf_counter()
            pending.step_cost_s = (pending.first_cost_s if done == "session"
                                   else min(1.5 * (now - t0) + 20e-6, pending.first_cost_s))
            return done
        except StopIteration:
            self._pending = None
            # Not released here (freeing a session takes 0.1–0.5 ms): by a later idle() call with
            # room for it, or by the swapping thread when it finished the steps itself (the loop
            # stopped calling idle() or had no room for them).
            if in_loop:
                self._retired.append(self._active)
                event = self._activate(pending.new, pending.t0)
                if pending.loop_owned:  # submitted: no thread is waiting to be woken
                    pending.done.set_result(event)
                else:
                    # Reported only with room left in this or a later idle() call: reporting wakes
                    # the thread waiting for it, which would otherwise run just as the loop makes
                    # its next call (on the new version).
                    self._completed = (pending, event)
            else:
                pending.retired = self._active
                pending.done.set_result(self._activate(pending.new, pending.t0))
        except Exception as exc:  # a broken version must not take the loop down
            self._pending = None
            log.warning("preparing %s failed, keeping %s: %s", pending.new.version, self._active.version, exc)
            pending.done.set_exception(exc)
        return None

    def _loop_calls_idle(self) -> bool:
        return time.perf_counter() - self._idle_seen < 1.0

    def _activate(self, new: Predictor, t0: float) -> SwapEvent:
        prepare_ms = (time.perf_counter() - t0) * 1e3
        old = self._active
        self._active = new  # one reference assignment: atomic for readers
        event = SwapEvent(old.version, new.version, prepare_ms, time.time())
        self.events.append(event)
        return event

    def submit(self, new: Predictor) -> Future[SwapEvent]:
        """Have the serving loop itself prepare ``new`` and make it active; returns at once.

        For a loop that learns of a new version in its own thread (an event loop, a dApp loop):
        every step runs in its :meth:`idle` calls and the swapped-out version is released in a
        later one, so no other Python thread takes the GIL from the serving thread. With the
        C-API engine and the compiled helpers (the default on CPU) the session is built on a
        native thread that never takes the GIL and idle() only polls it, so any slack will do
        (1 kHz included). Otherwise the build itself runs in an idle() call once its estimate
        (see :meth:`_build_cost_s`) fits before the loop's next call (a few ms in a busy process).
        The future is completed in the loop's idle(): callbacks added to it run there.

        Raises
        ------
        RanmlError
            Another swap is in progress.
        """
        if new.started:
            raise RanmlError(f"submit() prepares a version itself; {new.version} is already started (use swap())")
        if self._swap_lock.locked():
            raise RanmlError(f"a swap is in progress; submit {new.version} after it")
        return self._enqueue(new, loop_owned=True).done

    def _enqueue(self, new: Predictor, loop_owned: bool) -> _Pending:
        """Hand every preparation step of ``new`` to the loop's :meth:`idle` calls."""
        with self._step_lock:
            if self._pending is not None:
                raise RanmlError(f"a swap is in progress; submit {new.version} after it")
            now = time.perf_counter()
            off_thread = new.builds_off_thread()
            steps = new.start_steps(cells=self._active.served_cells(), build_off_thread=off_thread)
            step_cost = self._step_cost_s()
            first = _START_BUILD_COST_S if off_thread else self._build_cost_s()
            pending = _Pending(new, steps, now, first, now, step_cost, loop_owned=loop_owned, off_thread=off_thread)
            self._pending = pending
        return pending

    def _build_cost_s(self) -> float:
        """Estimated cost of a session build inside the serving loop.

        The last build that ran in the loop, or 4× the warm build timed by :meth:`start` (a
        build in a process that is busy serving finds cold caches: measured 2.5–5 ms where
        back-to-back builds take 0.3–0.6 ms), plus 0.1 ms; 5 ms when neither is known.
        """
        if self._loop_build_s is not None:
            return self._loop_build_s + 100e-6
        return 4 * self._warm_build_s + 100e-6 if self._warm_build_s is not None else 5e-3

    def swap(self, new: Predictor) -> SwapEvent:
        """Start ``new`` (if needed), then make it active; returns once it answers."""
        with self._swap_lock:
            t0 = time.perf_counter()
            if new.started:
                event = self._activate(new, t0)
            elif self._loop_calls_idle() and new.builds_off_thread():
                # The loop does everything, the build on a native thread: this thread only waits
                # (its GIL hand-overs are one now and one when it is woken, in the loop's slack).
                self._hand_over = True
                try:
                    event = self._wait_for(self._enqueue(new, loop_owned=False))
                finally:
                    self._hand_over = False
            elif self._loop_calls_idle():
                # Build the session here (no GIL with the C API), then hand the short steps to the
                # serving loop's idle() calls; the loop makes the new version active itself. The
                # build starts right after a serving call, in the loop's slack. Python run here
                # after the build delays the serving call running then (its ONNX Runtime run
                # returns to find this thread holding the GIL), so everything else is done before.
                cost = self._step_cost_s()
                steps = new.start_steps(cells=self._active.served_cells())
                pending = _Pending(new, steps, t0, cost, t0, cost)
                self._hand_over = True
                try:
                    self._after_a_call()
                    next(steps)  # the session
                    pending.progress_at = time.perf_counter()
                    self._pending = pending
                    event = self._wait_for(pending)
                    pending.retired = None  # set when this thread finished the steps: released here
                    log.info("swapped %s → %s (prepared in %.1f ms)", event.from_version, event.to_version,
                             event.prepare_ms)
                finally:
                    self._hand_over = False
                return event
            else:
                # Each step (session creation, binding, each warm-up call) holds the GIL briefly;
                # taking it right after a call leaves the serving thread's next call undisturbed.
                self._after_a_call()
                for _ in new.start_steps(between=self._after_a_call, cells=self._active.served_cells()):
                    self._after_a_call()
                event = self._activate(new, t0)
        log.info("swapped %s → %s (prepared in %.1f ms)", event.from_version, event.to_version, event.prepare_ms)
        return event

    def _wait_for(self, pending: _Pending) -> SwapEvent:
        """Wait for the loop to finish ``pending``.

        Take over the remaining steps when the loop stops calling :meth:`idle`, or when its slack
        has been too short for a step for a second.
        """
        while True:
            try:
                return pending.done.result(timeout=0.2)
            except TimeoutError:
                if self._loop_calls_idle() and time.perf_counter() - pending.progress_at < 1.0:
                    continue
            log.info("the serving loop left no room for preparing %s; preparing it on this thread",
                     pending.new.version)
            with self._step_lock:
                completed = self._completed
                if completed is not None and completed[0] is pending:  # done, not yet reported
                    self._completed = None
                    pending.done.set_result(completed[1])
                while self._pending is pending:
                    self._after_a_call()
                    self._step(pending, in_loop=False)

    def _step_cost_s(self) -> float:
        """A first estimate of one preparation step (then each step's own duration is used).

        The first run of a new session is 2–3× a warm one, and the active version's calls are a
        guide to a warm one (they may be larger batches: the estimate is capped).
        """
        p50 = self._active.metrics.recent_median()  # a short sample: this may run on the swapping thread
        return min(50e-6 + 3 * (200e-6 if math.isnan(p50) else p50 * 1e-6), 500e-6)  # NaN before any call

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
