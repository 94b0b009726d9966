"""Build the dApp's forecaster (a registry model or the built-in linear trend) and its hot-swapper."""

from __future__ import annotations

import logging
import threading
import time

from ranml.dapp.loop import DApp, LinearTrendForecaster, ModelHolder, OnnxSlotForecaster, SlotForecaster

__all__ = ["build_forecaster", "start_swapper"]

log = logging.getLogger("ranml.dapp.runtime")


def _predictor(registry: str, model: str) -> object:
    from ranml.serving.registry import open_registry
    from ranml.serving.runtime import Predictor

    name, _, ref = model.partition("@")
    return Predictor.from_registry(open_registry(registry), name, ref or "champion", threads=1)


def build_forecaster(dapp: DApp, cells: int, registry: str | None, model: str | None) -> SlotForecaster:
    """A registry model in a hot-swappable slot when ``registry`` and ``model`` are given, else a linear trend."""
    if registry and model:
        from ranml.serving.swap import ModelSlot

        slot = ModelSlot(_predictor(registry, model)).start()  # type: ignore[arg-type]
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
                current.slot.swap(_predictor(registry, model))  # prepared between the loop's calls
                holder.swaps += 1
            else:
                holder.swap(build_forecaster(dapp, cells, registry, model))
            log.debug("hot swap %d at %.3f", holder.swaps, time.monotonic())

    thread = threading.Thread(target=work, name="dapp-swapper", daemon=True)
    thread.start()
    return thread
