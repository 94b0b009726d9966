"""Energy-saving planner rApp: a day-ahead forecast per cell from O1 data → a sleep schedule over A1.

For every capacity cell (cell number above ``coverage_cells``, the energy-saving xApp's
convention) with at least ``min_history_days`` of telemetry, the day-ahead forecast of ``kpi``
per time-of-day slot is the ``quantile`` of the same slot over the last ``history_days`` days
(a seasonal quantile: a conservative upper estimate, not only the mean). The windows of the next
``horizon_h`` hours where the forecast stays under ``sleep_below`` for at least
``min_window_min`` minutes become the cell's sleep windows. The schedule goes out as one A1
policy instance of type 21000 (:data:`~ranml.protocols.a1policies.SLEEP_SCHEDULE`), re-planned
every ``replan_h`` hours of telemetry time; the energy-saving xApp sleeps a listed cell only
inside its windows, and the traffic-steering xApp does not steer into a cell about to sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import Field

from ranml.config import AppSettings
from ranml.protocols.a1policies import SLEEP_SCHEDULE
from ranml.rapp.app import RApp
from ranml.rapp.context import RAppContext
from ranml.telemetry import CELL, TIME

__all__ = ["PlannerSettings", "PlannerState", "app", "plan_schedule"]


class PlannerSettings(AppSettings):
    """Planner settings."""

    kpi: str = "prb_util"
    sleep_below: float = Field(default=0.3, gt=0, le=1.0)
    quantile: float = Field(default=0.9, gt=0, lt=1.0)
    history_days: int = Field(default=7, ge=1, le=56)
    min_history_days: float = Field(default=1.0, gt=0)
    min_window_min: float = Field(default=30.0, ge=0)
    horizon_h: float = Field(default=24.0, gt=0, le=168)
    replan_h: float = Field(default=6.0, gt=0)
    coverage_cells: int = Field(default=1, ge=0, description="cells numbered 1..N of each node never sleep")
    instance_id: str = "day-ahead"


@dataclass
class PlannerState:
    """The planner's state for one run."""

    planned_at: pd.Timestamp | None = None  # telemetry time of the last schedule pushed


app = RApp[PlannerSettings, PlannerState](
    "energy-saving-planner", version="1.0.0", config=PlannerSettings, telemetry_step="15min",
    description="Day-ahead per-cell sleep schedules for the energy-saving xApp, over A1")
app.produces_policy(SLEEP_SCHEDULE)


def _cell_number(cell: str) -> int | None:
    try:
        return int(cell.split(":")[1], 16) & 0x3FFF
    except (IndexError, ValueError):
        return None


def plan_schedule(frame: pd.DataFrame, step: pd.Timedelta, s: PlannerSettings) -> dict[str, object]:
    """The sleep-schedule policy payload for the telemetry in ``frame`` (tidy: cell_id, timestamp, kpi)."""
    now = frame[TIME].max() + step
    slots_per_day = int(pd.Timedelta("1D") / step)
    horizon = pd.date_range(now, now + pd.Timedelta(hours=s.horizon_h), freq=step, inclusive="left")
    slot_of = ((horizon - horizon.normalize()) / step).astype(int)
    min_len = max(1, int(np.ceil(pd.Timedelta(minutes=s.min_window_min) / step)))
    cells: dict[str, list[list[float]]] = {}
    recent = frame[frame[TIME] >= now - pd.Timedelta(days=s.history_days)]
    for cell, group in recent.groupby(CELL):
        number = _cell_number(str(cell))
        if number is not None and number <= s.coverage_cells:
            continue
        values = group[s.kpi].to_numpy(dtype=float)
        times = group[TIME]
        if (times.max() - times.min()) < pd.Timedelta(days=s.min_history_days) - step:
            continue
        slots = ((times - times.dt.normalize()) / step).astype(int).to_numpy()
        profile = np.full(slots_per_day, np.nan)
        for slot in range(slots_per_day):
            mine = values[(slots == slot) & ~np.isnan(values)]
            if mine.size:
                profile[slot] = np.quantile(mine, s.quantile)
        low = profile[slot_of] < s.sleep_below  # NaN (never seen) compares False: no sleep
        windows, start = [], None
        for i, flag in enumerate([*low, False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                if i - start >= min_len:
                    t0 = horizon[start].timestamp()
                    windows.append([t0, t0 + (i - start) * step.total_seconds()])
                start = None
        if windows:
            cells[str(cell)] = windows
    return {"cells": cells, "generated_at": float(now.timestamp()), "horizon_s": s.horizon_h * 3600.0,
            "model": f"seasonal-quantile q={s.quantile} over {s.history_days} d"}


@app.lifespan
async def lifespan(ctx: RAppContext[PlannerSettings, None]) -> AsyncIterator[PlannerState]:
    """Nothing planned yet."""
    yield PlannerState()


@app.on_telemetry
async def replan(ctx: RAppContext[PlannerSettings, PlannerState], added: int) -> None:
    """Plan again when ``replan_h`` of telemetry time passed since the last plan."""
    s = ctx.config
    table = ctx.telemetry.table()
    if s.kpi not in table.frame.columns:
        ctx.log.warning("telemetry has no %s column (have %s)", s.kpi, sorted(table.frame.columns))
        return
    latest = table.frame[TIME].max()
    last = ctx.app_state.planned_at
    if last is not None and latest - last < pd.Timedelta(hours=s.replan_h):
        return
    payload = plan_schedule(table.frame, table.step, s)
    if not payload["cells"]:
        ctx.log.info("no cell has enough history or a low enough day-ahead forecast yet")
        return
    if await ctx.put_policy(SLEEP_SCHEDULE, s.instance_id, payload):
        ctx.app_state.planned_at = latest
        ctx.log.info("sleep schedule pushed: %d cells", len(payload["cells"]))  # type: ignore[arg-type]
