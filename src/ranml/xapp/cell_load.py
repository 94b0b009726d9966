"""Per-cell PRB utilisation history, forecasts and their error: what the built-in apps build on (and yours may).

Each report updates the cell's utilisation ring; the policy decides what a "forecast" is:

* ``none``: the app observes only (the baseline);
* ``reactive``: the latest measurement stands for the whole horizon;
* ``forecast``: a model (registry model when configured, else the built-in Holt forecaster)
  predicts the horizon; an upper bound adds ``z`` times the cell's rolling forecast RMSE.
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
from pydantic import Field

from ranml.config import AppSettings
from ranml.serving import CanaryPolicy, ModelRef, ServedModel, open_registry
from ranml.xapp.app import CellReport
from ranml.xapp.context import Context
from ranml.xapp.features import FeatureStore
from ranml.xapp.forecast import Forecaster, HoltForecaster, RegistryForecaster

__all__ = ["MEASUREMENTS", "CellView", "LoadModel", "LoadSettings", "load_model", "neighbours", "observe",
           "open_forecaster"]

MEASUREMENTS = ("RRU.PrbUsedDl", "RRU.PrbAvailDl", "RRC.ConnMean", "PEE.AvgPower")


class LoadSettings(AppSettings):
    """Settings common to the built-in apps (unknown keys are refused)."""

    policy: Literal["none", "reactive", "forecast"] = "forecast"
    horizon: int = Field(default=4, ge=1, le=96)
    history: int = Field(default=12, ge=3, le=256)
    z: float = Field(default=1.3, ge=0)
    min_margin: float = Field(default=0.03, ge=0)
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


@dataclass
class CellView:
    """What the app knows about one cell now."""

    key: str
    meid: str
    util: float  # 0..1 (NaN while the cell is off)
    ues: int
    off: bool
    time: float
    forecast: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upper: float = 0.0


class LoadModel:
    """Utilisation history, forecasts and forecast errors for every cell."""

    def __init__(self, settings: LoadSettings, forecaster: Forecaster | None = None) -> None:
        self.s = settings
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
        self.forecasts = 0
        self.updates = 0
        self.predict_s = 0.0  # time spent in the forecaster (the predictor's share of the work)

    def update(self, r: CellReport) -> CellView:
        """Take one report; returns the cell's view with its horizon and upper bound."""
        self.updates += 1
        used, avail, ues, _ = r.last(*MEASUREMENTS)
        util = math.nan if not avail or used is None else float(used) / float(avail)
        off = not avail
        period = r.granularity_s * len(r.records)
        t = r.time + period  # end of the reporting period
        if self.store is None:
            self.period_s = period
            self.store = FeatureStore(("util_pct", "ues"), period, max(64, 2 * self.steps))
        key = r.cell_key
        if not off:
            self.store.add(key, t, (util * 100.0, ues or 0))
            self._score(key, t, util)
        view = CellView(key, r.meid, util, int(ues or 0), off, t)
        if off or self.s.policy == "none":
            view.forecast = np.zeros(self.s.horizon)
        elif self.s.policy == "reactive" or not self.store.ready(key, self.steps):
            view.forecast = np.full(self.s.horizon, util)
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
        for issued_at, forecast in self._issued[key]:
            step = round((t - issued_at) / self.period_s) - 1
            if 0 <= step < forecast.size:
                self._sq_err[key].append((forecast[step] - util) ** 2)
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
    if load.updates % 100 == 0:  # every so often, so that even a killed app restarts warm
        ctx.state.set("history", load.snapshot())
    return view
