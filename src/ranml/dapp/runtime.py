"""Build the dApp's forecaster (a registry model or the built-in linear trend) and its hot-swapper."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from ranml.dapp.loop import DApp, LinearTrendForecaster, ModelHolder, OnnxSlotForecaster, SlotForecaster
from ranml.errors import RanmlError

if TYPE_CHECKING:
    from ranml.serving.runtime import Predictor

__all__ = ["build_forecaster", "start_swapper"]

log = logging.getLogger("ranml.dapp.runtime")


def _predictor(registry: str, model: str) -> Predictor:
    from ranml.serving.registry import open_registry
    from ranml.serving.runtime import Predictor

    name, _, ref = model.partition("@")
    return Predictor.from_registry(open_registry(registry), name, ref or "champion", threads=1)


def build_forecaster(dapp: DApp, cells: int, registry: str | None, model: str | None) -> SlotForecaster:
    """A registry model in a hot-swappable slot when ``registry`` and ``model`` are given, else a linear trend."""
    if registry and model:
        from ranml.serving.swap import ModelSlot

        slot = ModelSlot(_predictor(registry, model)).start()
        return OnnxSlotForecaster(slot, cells)
    return LinearTrendForecaster(cells, dapp.window, dapp.horizon)


def start_swapper(holder: ModelHolder, dapp: DApp, cells: int, registry: str | None, model: str | None,
                  every_s: float, stop: threading.Event) -> threading.Thread | None:
    """Hot-swap the model every ``every_s`` seconds on a helper thread (a fresh session each time)."""
    if every_s <= 0:
        return None

    def work() -> None:
        while not stop.wait(every_s):
            current = holder.current
            if isinstance(current, OnnxSlotForecaster) and registry and model:
                new = _predictor(registry, model)
                if new.builds_off_thread():
                    # The loop prepares it in its idle time, the session on a native thread: this
                    # thread neither waits nor is woken for it (each hand-over can cost a slot).
                    try:
                        current.slot.submit(new)
                    except RanmlError as exc:  # the previous one is still being prepared
                        log.warning("hot swap skipped: %s", exc)
                        continue
                else:
                    current.slot.swap(new)  # prepared between the loop's calls
            else:
                holder.swap(build_forecaster(dapp, cells, registry, model))
            log.debug("hot swap asked for at %.3f (%d done)", time.monotonic(), holder.swaps_done)

    thread = threading.Thread(target=work, name="dapp-swapper", daemon=True)
    thread.start()
    return thread
