"""Per-cell PRB utilisation history, forecasts and their error: what the built-in apps build on (and yours may).

Each report updates the cell's utilisation ring; the policy decides what a "forecast" is:

* ``none``: the app observes only (the baseline);
* ``reactive``: the latest measurement stands for the whole horizon;
* ``forecast``: a model (registry model when configured, else the built-in Holt forecaster)
  predicts the horizon; an upper bound adds ``z`` times the cell's rolling forecast RMSE;
* ``oracle``: the true future demand, read from e2sim's ground truth (``oracle_url``): the upper
  bound of what any forecaster could give the same decisions (evaluation only).

Every issued horizon (the reactive one too: the latest value held) is scored when its actuals
arrive, per lead time; :meth:`LoadModel.bound` turns those errors into a per-lead upper bound
(forecast + the ``quantile`` of its errors at that lead), so that each policy's safety margin
is calibrated on its own predictor.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ranml.config import AppSettings
from ranml.serving import CanaryPolicy, ModelRef, ServedModel, open_registry
from ranml.xapp.app import CellReport
from ranml.xapp.context import Context
from ranml.xapp.features import FeatureStore
from ranml.xapp.forecast import Forecaster, HoltForecaster, RegistryForecaster
from ranml.xapp.oracle import OracleSource

__all__ = ["MEASUREMENTS", "CellView", "LoadModel", "LoadSettings", "load_model", "neighbours", "observe",
           "open_forecaster"]

MEASUREMENTS = ("RRU.PrbUsedDl", "RRU.PrbAvailDl", "RRC.ConnMean", "PEE.AvgPower")


class LoadSettings(AppSettings):
    """Settings common to the built-in apps (unknown keys are refused)."""

    policy: Literal["none", "reactive", "forecast", "oracle"] = "forecast"
    horizon: int = Field(default=4, ge=1, le=96)
    history: int = Field(default=12, ge=3, le=256)
    z: float = Field(default=1.3, ge=0)
    min_margin: float = Field(default=0.03, ge=0)
    quantile: float = Field(default=0.9, gt=0.5, lt=1.0,
                            description="per-lead error quantile of the upper bound (planning apps)")
    oracle_url: str | None = Field(default=None, description="e2sim's ground-truth URL (policy oracle)")
    demand_from_ues: bool = Field(default=True, description="past PRB saturation, read the load from the "
                                  "connected UEs (the PRB share stops at 100 %)")
    registry: str | None = None
    model: str | None = None
    model_alias: str = "champion"
    challenger_alias: str = "challenger"
    canary_fraction: float = Field(default=0.2, gt=0, lt=1, description="share of cells on the challenger")
    canary_min_scored: int = Field(default=200, ge=10, description="scored forecasts per version before deciding")
    canary_margin_pct: float = Field(default=2.0, ge=0, description="error gain needed to promote")
    canary_confidence_z: float = Field(default=2.0, ge=0, description="standard errors the paired error "
                                       "difference must be from 0 before a decision (0: off)")
    feature_map: dict[str, int] = Field(default_factory=lambda: {"prb_util": 0, "active_ues": 1})

    @model_validator(mode="after")
    def _oracle_needs_url(self) -> LoadSettings:
        if self.policy == "oracle" and not self.oracle_url:
            raise ValueError("policy oracle reads the true future from e2sim: set oracle_url to e2sim's "
                             "ground-truth URL (ranml eval closed-loop sets it)")
        return self


@dataclass
class CellView:
    """What the app knows about one cell now."""

    key: str
    meid: str
    util: float  # load share: PRB share, above 1 when the UEs show demand past capacity (NaN while off)
    ues: int
    off: bool
    time: float
    forecast: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upper: float = 0.0
    capacity: float = 0.0  # PRBs available (the most reported; known while the cell is off)


class LoadModel:
    """Utilisation history, forecasts and forecast errors for every cell."""

    def __init__(self, settings: LoadSettings, forecaster: Forecaster | None = None,
                 oracle: OracleSource | None = None) -> None:
        self.s = settings
        self.oracle = oracle
        self.period_s = 0.0  # the reporting period, learnt from the first report
        self.forecaster: Forecaster = forecaster or HoltForecaster(settings.history, settings.horizon)
        self.steps = self.forecaster.input_steps
        self.store: FeatureStore | None = None
        self.views: dict[str, CellView] = {}
        self._window = np.empty((1, self.steps, 2))
        self._target = np.empty((1, self.steps))
        self._times = np.empty(1)
        self._issued: dict[str, deque[tuple[float, np.ndarray]]] = defaultdict(lambda: deque(maxlen=64))
        self._sq_err: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=48))
        self._resid: dict[str, list[deque[float]]] = {}  # cell -> per lead: actual - forecast
        self._capacity: dict[str, float] = {}
        self._per_ue: dict[str, float] = {}  # cell -> PRB share per connected UE (unsaturated)
        self.forecasts = 0
        self.updates = 0
        self.predict_s = 0.0  # time spent in the forecaster (the predictor's share of the work)

    def _demand(self, key: str, util: float, ues: int) -> float:
        """The cell's load: the PRB share, or past saturation the connected UEs × the share per UE.

        PRB usage stops at 100 % when a cell is overloaded; its connected UEs keep counting the
        demand. The share one UE uses is learnt from the cell's unsaturated reports.
        """
        if not self.s.demand_from_ues or math.isnan(util) or ues <= 0:
            return util
        if util < 0.9:
            old = self._per_ue.get(key)
            self._per_ue[key] = util / ues if old is None else 0.9 * old + 0.1 * util / ues
            return util
        per_ue = self._per_ue.get(key)
        return max(util, ues * per_ue) if per_ue is not None else util

    async def prefetch(self, r: CellReport) -> None:
        """With the ``oracle`` policy, read the true future from ``r``'s period end off the event loop."""
        if self.s.policy != "oracle" or not self.s.oracle_url:
            return
        period = r.granularity_s * len(r.records)
        if self.oracle is None:
            self.oracle = OracleSource(self.s.oracle_url, period, self.s.horizon)
        await self.oracle.prefetch(r.time + period)

    def update(self, r: CellReport) -> CellView:
        """Take one report; returns the cell's view with its horizon and upper bound."""
        used, avail, ues, _ = r.last(*MEASUREMENTS)
        util = math.nan if not avail or used is None else float(used) / float(avail)
        util = self._demand(r.cell_key, util, int(ues or 0))
        if avail:  # the most seen: a period the cell slept or woke in reports only part of its PRBs
            self._capacity[r.cell_key] = max(float(avail), self._capacity.get(r.cell_key, 0.0))
        period = r.granularity_s * len(r.records)
        return self.track(r.cell_key, r.meid, r.time + period, util, int(ues or 0), not avail, period)

    def track(self, key: str, meid: str, t: float, util: float, ues: int, off: bool,
              period_s: float | None = None) -> CellView:
        """Take one value of a series (a cell, or one an app derives such as a node's total).

        Parameters
        ----------
        key, meid
            The series and the node it belongs to.
        t
            End of the period the value covers (seconds since the epoch).
        util
            The value (utilisation share; NaN while off).
        ues, off
            Connected UEs; whether the cell is off (no value, no forecast).
        period_s
            The reporting period (learnt from the first series when not given).
        """
        self.updates += 1
        if self.store is None:
            self.period_s = period_s or self.period_s
            self.store = FeatureStore(("util_pct", "ues"), self.period_s, max(64, 2 * self.steps))
        if not off:
            self.store.add(key, t, (util * 100.0, ues))
            self._score(key, t, util)
        view = CellView(key, meid, util, ues, off, t, capacity=self._capacity.get(key, 0.0))
        policy = self.s.policy
        if off or policy == "none":
            view.forecast = np.zeros(self.s.horizon)
        elif policy == "oracle" and self.oracle is not None and (true := self.oracle.get(key, t)) is not None:
            view.forecast = np.clip(true[: self.s.horizon], 0.0, 1.5)
        elif policy != "forecast" or not self.store.ready(key, self.steps):
            view.forecast = np.full(self.s.horizon, util)
            self._issued[key].append((t, view.forecast))
        else:
            self.store.window(key, self.steps, self._window[0])
            np.divide(self._window[0, :, 0], 100.0, out=self._target[0])
            self._times[0] = t
            t0 = time.perf_counter()
            if isinstance(self.forecaster, HoltForecaster):
                pred = self.forecaster.predict([key], self._target, self._times)[0]
            else:
                pred = self.forecaster.predict([key], self._window, self._times)[0] / 100.0
            self.predict_s += time.perf_counter() - t0
            view.forecast = np.clip(np.asarray(pred[: self.s.horizon], dtype=np.float64), 0.0, 1.5)
            self._issued[key].append((t, view.forecast.copy()))
            self.forecasts += 1
        view.upper = float(view.forecast.max()) + self.margin(key) if view.forecast.size else 0.0
        self.views[key] = view
        return view

    def bound(self, view: CellView, steps: int | None = None) -> np.ndarray:
        """Per-lead upper bound of ``view``'s horizon: forecast + the ``quantile`` of its errors.

        At least ``min_margin`` over the forecast; ``z`` × 0.1 at a lead with fewer than 12 scored
        errors; none for the oracle (it is the truth). ``steps`` past the horizon repeat its end.
        """
        f = view.forecast
        n = steps or f.size
        path = np.concatenate([f, np.full(max(n - f.size, 0), f[-1] if f.size else 0.0)])[:n]
        if self.s.policy == "oracle":
            return path
        resid = self._resid.get(view.key)
        margin = np.full(n, max(self.s.min_margin, self.s.z * 0.1))
        if resid is not None:
            for k in range(n):
                errs = resid[min(k, len(resid) - 1)]
                if len(errs) >= 12:
                    margin[k] = max(self.s.min_margin, float(np.quantile(np.fromiter(errs, float), self.s.quantile)))
        return np.asarray(path + margin)

    def snapshot(self, steps: int | None = None) -> dict[str, Any]:
        """Recent per-cell history (JSON-ready) so that a restarted app does not start cold."""
        if self.store is None:
            return {}
        steps = min(steps or self.steps, self.store.capacity)
        out: dict[str, Any] = {"period_s": self.period_s, "cells": {}}
        buf = np.empty((steps, 2))
        for cell in self.store.cells:
            if self.store.ready(cell, steps):
                self.store.window(cell, steps, buf)
                out["cells"][cell] = {"t": self.store.last_time(cell), "util_pct": buf[:, 0].round(3).tolist(),
                                      "ues": buf[:, 1].tolist()}
        return out

    def restore(self, snap: dict[str, Any]) -> int:
        """Load a :meth:`snapshot`; returns the cells restored."""
        period = float(snap.get("period_s") or 0)
        if period <= 0:
            return 0
        if self.store is None:
            self.period_s = period
            self.store = FeatureStore(("util_pct", "ues"), period, max(64, 2 * self.steps))
        restored = 0
        for cell, h in snap.get("cells", {}).items():
            n = len(h["util_pct"])
            for i, (u, q) in enumerate(zip(h["util_pct"], h["ues"], strict=True)):
                self.store.add(cell, float(h["t"]) - (n - 1 - i) * period, (u, q))
            restored += 1
        return restored

    def _score(self, key: str, t: float, util: float) -> None:
        """Compare the forecasts made earlier for time ``t`` with the measured value."""
        resid = self._resid.get(key)
        for issued_at, forecast in self._issued[key]:
            step = round((t - issued_at) / self.period_s) - 1
            if 0 <= step < forecast.size:
                self._sq_err[key].append((forecast[step] - util) ** 2)
                if resid is None:
                    resid = self._resid[key] = [deque(maxlen=96) for _ in range(forecast.size)]
                resid[step].append(util - forecast[step])
        if self.s.policy == "forecast" and hasattr(self.forecaster, "observe"):
            self.forecaster.observe([key], t, np.array([util * 100.0]))

    def margin(self, key: str) -> float:
        """Error margin for the upper bound: ``z`` × rolling RMSE (at least ``min_margin``)."""
        if self.s.policy != "forecast":
            return 0.0
        errs = self._sq_err.get(key)
        rmse = math.sqrt(sum(errs) / len(errs)) if errs else 0.1
        return max(self.s.min_margin, self.s.z * rmse)


def neighbours(views: dict[str, CellView], cell: CellView) -> list[CellView]:
    """Cells of the same node (the apps' neighbour relation)."""
    return [v for k, v in views.items() if v.meid == cell.meid and k != cell.key]


def open_forecaster(settings: LoadSettings) -> RegistryForecaster | None:
    """A started registry forecaster when the settings name a model, else ``None`` (built-in)."""
    if settings.policy != "forecast" or not settings.registry or not settings.model:
        return None
    policy = CanaryPolicy(fraction=settings.canary_fraction, min_scored=settings.canary_min_scored,
                          margin_pct=settings.canary_margin_pct, confidence_z=settings.canary_confidence_z)
    served = ServedModel(open_registry(settings.registry), ModelRef(settings.model, settings.model_alias),
                         settings.challenger_alias, policy, by="xapp")
    return RegistryForecaster(served, settings.feature_map).start()


@asynccontextmanager
async def load_model(ctx: Context[Any, Any], settings: LoadSettings,
                     counters: dict[str, float]) -> AsyncIterator[LoadModel]:
    """The built-in apps' lifespan core: the forecaster and load model, warm history, app counters.

    Start: forecaster (``ctx.model``) and load model up, the cells' history restored from the
    state store, ``counters`` (plus ``cells_restored``) in ``ctx.counters``. Shutdown: history
    saved, forecaster closed.
    """
    forecaster = open_forecaster(settings)
    ctx.model = forecaster
    load = LoadModel(settings, forecaster)
    ctx.counters.update(counters)
    ctx.counters["cells_restored"] = load.restore(ctx.state.get("history", {}))
    ctx.state.set("model_version", forecaster.version if forecaster is not None else "holt")
    try:
        yield load
    finally:
        ctx.state.set("history", load.snapshot())
        if forecaster is not None:
            forecaster.close()


def observe(ctx: Context[Any, Any], load: LoadModel, r: CellReport) -> CellView:
    """Feed one report to ``load``; keeps ``ctx.counters["predict_s"]`` and the saved history current."""
    view = load.update(r)
    ctx.counters["predict_s"] = round(load.predict_s, 4)
    if load.oracle is not None:
        ctx.counters["oracle_failures"] = load.oracle.failures
    if load.updates % 100 == 0:  # every so often, so that even a killed app restarts warm
        ctx.state.set("history", load.snapshot())
    return view
