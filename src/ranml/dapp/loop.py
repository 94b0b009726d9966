"""The dApp loop: read a slot, window, predict, decide, write the control — inside a slot budget.

Every buffer is allocated before the loop starts (per-cell history rings, the window, the
forecast, the control record, the latency log); the cyclic garbage collector is frozen and
disabled while the loop runs, so no collection pause lands in a slot. The model is read from a
:class:`ModelHolder` once per slot, so a hot swap (another thread replacing the model) takes
effect at a slot boundary without missing one.

Per-slot deadline accounting: the latency of a slot is from its publication by the RAN
(``t_ns``) to the control written (``done_ns``), on the same monotonic clock. When the budget is
already spent before predicting (the loop fell behind), or the model overruns what is left, the
dApp's fallback decision is written instead (flag :data:`~ranml.dapp.e3.FALLBACK`). Slots are read
in order, so a slot that waited is still answered; a slot whose control is written after its
budget, and a slot lost because the loop fell a whole ring behind, count as misses.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ranml.dapp.e3 import FALLBACK, RECORD_VERSION, control_dtype, slot_dtype
from ranml.errors import ConfigError

if TYPE_CHECKING:
    from ranml.serving import ServedModel

__all__ = ["DApp", "DAppLoop", "LinearTrendForecaster", "LoopStats", "ModelHolder", "SlotForecaster"]

log = logging.getLogger("ranml.dapp")

DecideFn = Callable[[np.ndarray, np.ndarray, np.ndarray], None]  # (forecast[n, H], slot cells[n, 3], out[n])


_IDLE_GUARD_NS = 100_000  # slack handed to a hot swap ends this long before the next slot is due


class SlotForecaster(Protocol):
    """Forecast ``horizon`` slots of PRB usage per cell from ``windows[n, window]``."""

    horizon: int

    def forecast(self, windows: np.ndarray, deadline_s: float) -> tuple[np.ndarray, bool]:
        """``(values[n, horizon], fell_back)``."""


class LinearTrendForecaster:
    """Least-squares line through each cell's window, extrapolated (no model file, no allocation)."""

    def __init__(self, n_cells: int, window: int, horizon: int) -> None:
        self.horizon = horizon
        x = np.arange(window, dtype=np.float64)
        design = np.stack([np.ones(window), x], axis=1)
        coef = np.linalg.pinv(design)  # [2, window]
        future = np.stack([np.ones(horizon), window + np.arange(horizon)], axis=1)  # [H, 2]
        self._weights = (future @ coef).T.astype(np.float32)  # [window, H]
        self._out = np.empty((n_cells, horizon), dtype=np.float32)

    def forecast(self, windows: np.ndarray, deadline_s: float) -> tuple[np.ndarray, bool]:
        """Project the fitted lines."""
        np.matmul(windows, self._weights, out=self._out)
        return self._out, False


class OnnxSlotForecaster:
    """A registry model served by :class:`~ranml.serving.ServedModel` (its champion's slot swaps versions).

    The model must be univariate on the slot series (``feature_names == [target]``, no calendar).
    """

    def __init__(self, served: ServedModel, n_cells: int) -> None:
        m = served.manifest
        if list(m.feature_names) != [m.target]:
            raise ConfigError(f"model {m.name}: a dApp model takes only its target series, not {m.feature_names}; "
                              f"export one with features=[] and calendar=false")
        self.served, self.horizon, self.input_steps = served, m.horizon, m.input_steps
        self._cells = tuple(f"cell{i}" for i in range(n_cells))
        self._x = np.empty((n_cells, m.input_steps, 1), dtype=np.float32)

    def forecast(self, windows: np.ndarray, deadline_s: float) -> tuple[np.ndarray, bool]:
        """Run the active version (the slot reads it once per call)."""
        np.copyto(self._x[:, :, 0], windows[:, -self.input_steps:])
        f = self.served.forecast(self._cells, self._x, deadline_s)
        return f.values, f.fallback

    def idle(self, until: float) -> None:
        """Hand the time until the next slot (``perf_counter`` seconds) to a pending hot swap."""
        self.served.idle(until)


class ModelHolder:
    """The forecaster in use; :meth:`swap` replaces it between two slots."""

    def __init__(self, forecaster: SlotForecaster) -> None:
        self.current = forecaster
        self.swaps = 0

    def swap(self, forecaster: SlotForecaster) -> None:
        """Make ``forecaster`` current (one reference assignment: atomic for the loop)."""
        self.current = forecaster
        self.swaps += 1

    @property
    def swaps_done(self) -> int:
        """Completed swaps: forecasters replaced, plus model versions swapped in the current one's slot."""
        current = self.current
        return self.swaps + (len(current.served.champion.events) if isinstance(current, OnnxSlotForecaster) else 0)


@dataclass
class DApp:
    """A dApp: its window/horizon and its decision (and fallback decision) functions."""

    name: str
    version: str = "1.0.0"
    window: int = 32
    horizon: int = 4
    description: str = ""
    decide_fn: DecideFn | None = None
    fallback_fn: DecideFn | None = None

    def decide(self, fn: DecideFn) -> DecideFn:
        """Register ``fn(forecast, slot_cells, out)``: write the per-cell control into ``out``."""
        self.decide_fn = fn
        return fn

    def fallback(self, fn: DecideFn) -> DecideFn:
        """Register the decision used when the budget leaves no time for a forecast.

        Its ``forecast`` argument holds the latest value repeated over the horizon.
        """
        self.fallback_fn = fn
        return fn


@dataclass
class LoopStats:
    """What the loop measured."""

    slots: int = 0
    misses: int = 0
    skipped: int = 0
    fallbacks: int = 0
    rejected: int = 0  # records with a wrong version or cell count
    latencies_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def summary(self) -> dict[str, Any]:
        """Counts and latency percentiles in µs."""
        lat = self.latencies_ns / 1e3
        pct = (lambda q: round(float(np.percentile(lat, q)), 1)) if lat.size else (lambda q: None)
        return {"slots": self.slots, "misses": self.misses, "skipped": self.skipped, "fallbacks": self.fallbacks,
                "rejected": self.rejected,
                "p50_us": pct(50), "p99_us": pct(99), "p999_us": pct(99.9),
                "max_us": round(float(lat.max()), 1) if lat.size else None}


class DAppLoop:
    """Run ``app`` on ``link`` for ``n_cells`` cells within ``budget_us`` per slot."""

    def __init__(self, app: DApp, link: Any, n_cells: int, model: ModelHolder, budget_us: float,
                 max_log: int = 1 << 20) -> None:
        if app.decide_fn is None:
            raise ConfigError(f"dApp {app.name}: no decision function; register one with @app.decide")
        self.app, self.link, self.n, self.model = app, link, n_cells, model
        self.budget_ns = int(budget_us * 1000)
        self._hist = np.zeros((n_cells, 2 * app.window), dtype=np.float32)  # doubled ring: windows are views
        self._pos = 0
        self._slot = np.zeros((), dtype=slot_dtype(n_cells))
        self._ctrl = np.zeros((), dtype=control_dtype(n_cells))
        self._last = np.zeros((n_cells, app.horizon), dtype=np.float32)
        self._lat = np.zeros(max_log, dtype=np.int64)
        self.stats = LoopStats()
        self._prepared = False
        self._period_ns = 0.0  # smoothed slot spacing, learnt from consecutive slots
        self._prev_t_ns = 0

    def _decide_fallback(self) -> None:
        w = self.app.window
        latest = self._hist[:, self._pos + w - 1]
        self._last[:] = latest[:, None]
        fn = self.app.fallback_fn or self.app.decide_fn
        assert fn is not None
        fn(self._last, self._slot["cells"], self._ctrl["prb_reserve"])

    def step(self, skipped: int) -> None:
        """Handle the slot in ``self._slot`` (already read)."""
        app, w, ctrl, slot = self.app, self.app.window, self._ctrl, self._slot
        if int(slot["version"]) != RECORD_VERSION or int(slot["n_cells"]) != self.n:
            self.stats.rejected += 1  # not a record this loop understands: no decision from it
            if self.stats.rejected == 1:
                log.warning("rejected an E3 slot record (version %d, %d cells; expected %d, %d)",
                            int(slot["version"]), int(slot["n_cells"]), RECORD_VERSION, self.n)
            return
        self.stats.skipped += skipped
        self.stats.misses += skipped
        t_ns = int(slot["t_ns"])
        # history: write the newest value at pos and pos+w, so hist[:, pos+1 : pos+1+w] is the window
        p = self._pos
        values = slot["cells"][:, 0]
        self._hist[:, p] = values
        self._hist[:, p + w] = values
        self._pos = p = (p + 1) % w
        ctrl["flags"] = 0
        left_ns = self.budget_ns - (time.perf_counter_ns() - t_ns)
        if left_ns <= 0:
            ctrl["flags"] = FALLBACK
            self._decide_fallback()
        else:
            forecast, fell_back = self.model.current.forecast(self._hist[:, p:p + w], left_ns / 1e9)
            if fell_back:
                ctrl["flags"] = FALLBACK
            assert app.decide_fn is not None
            app.decide_fn(forecast, slot["cells"], ctrl["prb_reserve"])
        ctrl["seq"] = slot["seq"]
        ctrl["t_ns"] = t_ns
        done = time.perf_counter_ns()
        ctrl["done_ns"] = done
        self.link.send_control(ctrl)
        latency = done - t_ns
        if ctrl["flags"]:
            self.stats.fallbacks += 1
        if latency > self.budget_ns:
            self.stats.misses += 1
        i = self.stats.slots
        if i < len(self._lat):
            self._lat[i] = latency
        self.stats.slots = i + 1

    def prepare(self, warmup: int = 50) -> DAppLoop:
        """Warm the forecaster and the decision up, collect and freeze the heap — before the first slot.

        Call it before the link is opened (the RAN side starts publishing once the dApp attached),
        so that none of this lands in a slot.
        """
        assert self.app.decide_fn is not None
        windows = self._hist[:, : self.app.window]
        for _ in range(warmup):
            forecast, _ = self.model.current.forecast(windows, 1.0)
            self.app.decide_fn(forecast, self._slot["cells"], self._ctrl["prb_reserve"])
            self._decide_fallback()
        self._ctrl["prb_reserve"] = 0.0
        gc.collect()
        gc.freeze()
        self._prepared = True
        return self

    def _give_slack(self, skipped: int) -> None:
        """Offer the time until the next slot is due (less a guard) to the forecaster's ``idle``.

        A pending hot swap (see :meth:`ranml.serving.swap.ModelSlot.idle`) prepares the new version
        there, one step at a time, instead of on the swapping thread where it would compete with
        a slot for the GIL.
        """
        t_ns = int(self._slot["t_ns"])
        prev, self._prev_t_ns = self._prev_t_ns, t_ns
        if skipped or prev == 0 or t_ns <= prev:
            return
        gap = t_ns - prev
        self._period_ns = gap if self._period_ns == 0 else 0.9 * self._period_ns + 0.1 * gap
        idle = getattr(self.model.current, "idle", None)
        if idle is not None:
            idle((t_ns + self._period_ns - _IDLE_GUARD_NS) / 1e9)

    def run(self, stop: threading.Event, max_slots: int | None = None, idle_timeout_s: float = 2.0) -> LoopStats:
        """Loop until ``stop`` is set, ``max_slots`` are handled or the RAN side goes quiet."""
        if not self._prepared:
            self.prepare()
        gc.disable()
        timeout_ns = int(idle_timeout_s * 1e9)
        try:
            while not stop.is_set() and (max_slots is None or self.stats.slots < max_slots):
                skipped = self.link.next_slot(self._slot, timeout_ns)
                if skipped < 0:
                    log.info("no slot for %.1f s (or the RAN side closed): stopping", idle_timeout_s)
                    break
                self.step(skipped)
                self._give_slack(skipped)
        finally:
            gc.enable()
            gc.unfreeze()
        self.stats.latencies_ns = self._lat[: min(self.stats.slots, len(self._lat))].copy()
        return self.stats
