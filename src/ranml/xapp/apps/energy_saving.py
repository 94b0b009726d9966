"""Energy saving: switch capacity cells off when their forecast stays low, and on ahead of a rise.

Per cell report (cell number 1 of each node is the coverage cell and never sleeps):

* **sleep** a capacity cell when its load over the horizon (the forecast's mean; the latest value
  with ``reactive``) is under ``sleep_below`` and every awake neighbour's upper bound, with the
  cell's upper bound shared among them added, stays under ``absorb_below`` (so a cell whose
  neighbours are forecast near capacity never sleeps);
* **wake** a sleeping cell when a neighbour's upper-bound forecast within the horizon reaches
  ``wake_above`` — the horizon covers at least the wake-up delay, so with a forecast the cell is
  back before the rise; ``reactive`` only sees the rise when it is already measured.

The upper bound is the forecast plus ``z`` × the cell's rolling forecast RMSE (``forecast``), or
the latest measurement (``reactive``). A cell stays in a state at least ``min_dwell_periods``.

An A1 sleep schedule (policy type 21000, from the energy-saving rApp's day-ahead forecast)
restricts the cells it lists: such a cell sleeps only inside one of its windows, and is woken
``schedule_wake_lead_s`` before the window ends, whatever the short-term forecast says.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import Field

from ranml.protocols.a1policies import SLEEP_SCHEDULE, SleepSchedule
from ranml.protocols.e2sm import NrCgi
from ranml.xapp.a1 import PolicyRequest, instances_after
from ranml.xapp.app import CellReport, XApp
from ranml.xapp.cell_load import MEASUREMENTS, CellView, LoadModel, LoadSettings, load_model, neighbours, observe
from ranml.xapp.context import Context

__all__ = ["EnergySavingSettings", "EnergySavingState", "app"]


class EnergySavingSettings(LoadSettings):
    """Energy saving settings (the descriptor's controls)."""

    sleep_below: float = Field(default=0.3, gt=0, le=1.0)
    absorb_below: float = Field(default=0.85, gt=0, le=1.0)
    wake_above: float = Field(default=0.85, gt=0, le=1.5)
    coverage_cells: int = Field(default=1, ge=0, description="cells numbered 1..N of each node never sleep")
    min_dwell_periods: int = Field(default=5, ge=0)
    horizon: int = Field(default=8, ge=1, le=96, description="periods ahead; cover the wake-up delay")
    schedule_wake_lead_s: float = Field(default=300.0, ge=0,
                                        description="wake a scheduled cell this long before its window ends")


@dataclass
class EnergySavingState:
    """The app's state for one run (what its lifespan yields: ``ctx.app_state``)."""

    load: LoadModel
    schedule: SleepSchedule
    asleep: dict[str, float] = field(default_factory=dict)  # cell -> time this app switched it off
    changed: dict[str, float] = field(default_factory=dict)  # cell -> time of its last switch


Ctx = Context[EnergySavingSettings, EnergySavingState]

app = XApp[EnergySavingSettings, EnergySavingState](
    "energy-saving", version="1.0.0", config=EnergySavingSettings, requestor_id=1002,
    description="Forecast-driven cell switch-off with E2SM-CCC")  # 1001: traffic steering
app.sends_mtype("RIC_CONTROL_REQ")
_SUBSCRIPTION = app.subscribe_kpm(MEASUREMENTS, period_ms=60_000)


@app.lifespan
async def lifespan(ctx: Context[EnergySavingSettings, None]) -> AsyncIterator[EnergySavingState]:
    """Build the load model; restore the cells this app put to sleep before a restart."""
    async with load_model(ctx, ctx.config, {"switch_off": 0, "switch_on": 0, "switch_refused": 0}) as load:
        yield EnergySavingState(load, SleepSchedule.combine(
            instances_after(ctx.policies.get(SLEEP_SCHEDULE.policy_type_id, {}))), dict(ctx.state.get("asleep", {})))


@app.on_policy(SLEEP_SCHEDULE.policy_type_id)
async def sleep_schedule(ctx: Ctx, request: PolicyRequest) -> None:
    """A day-ahead sleep schedule from the rApp: the listed cells sleep only inside their windows."""
    schedule = SleepSchedule.combine(
        instances_after(ctx.policies.get(SLEEP_SCHEDULE.policy_type_id, {}), request))  # ConfigError if malformed
    ctx.app_state.schedule = schedule
    ctx.log.info("sleep schedule %s: %d cells, %d windows", request.operation.lower(), len(schedule.windows),
                 sum(len(w) for w in schedule.windows.values()))


def _cell_number(key: str) -> int:
    return int(key.split(":")[1], 16) & 0x3FFF


def _pressure(s: EnergySavingSettings, v: CellView) -> float:
    return v.upper if s.policy == "forecast" else v.util


@app.on_report
async def report(ctx: Ctx, r: CellReport) -> None:
    """Update the cell; decide sleep or wake."""
    s, st = ctx.config, ctx.app_state
    load = st.load
    view = observe(ctx, load, r)
    if s.policy == "none" or r.cell is None or _cell_number(view.key) <= s.coverage_cells:
        return
    if view.time - st.changed.get(view.key, -1e18) < s.min_dwell_periods * load.period_s:
        return
    asleep, schedule = st.asleep, st.schedule
    scheduled = schedule.covers(view.key)
    window = schedule.window_at(view.key, view.time) if scheduled else None
    peers = [n for n in neighbours(load.views, view) if not n.off]
    if view.off:
        window_ends = scheduled and (window is None or view.time >= window[1] - s.schedule_wake_lead_s)
        if view.key in asleep and (window_ends or any(_pressure(s, n) >= s.wake_above for n in peers)):
            await _switch(ctx, r, view, sleep=False)
        return
    if scheduled and (window is None or view.time + s.min_dwell_periods * load.period_s
                      > window[1] - s.schedule_wake_lead_s):
        return  # outside its scheduled windows, or too close to the end of one
    own = float(view.forecast.mean()) if s.policy == "forecast" and view.forecast.size else view.util
    if own >= s.sleep_below or not peers:
        return
    share = _pressure(s, view) / len(peers)
    if all(_pressure(s, n) + share <= s.absorb_below for n in peers):
        await _switch(ctx, r, view, sleep=True)


async def _switch(ctx: Ctx, r: CellReport, view: CellView, sleep: bool) -> None:
    assert r.cell is not None
    asleep, counters = ctx.app_state.asleep, ctx.counters
    if await ctx.switch_cell(r.meid, NrCgi(r.cell.plmn, r.cell.cell_id), sleep):
        ctx.app_state.changed[view.key] = view.time
        if sleep:
            asleep[view.key] = view.time
            counters["switch_off"] += 1
        else:
            asleep.pop(view.key, None)
            counters["switch_on"] += 1
        ctx.state.set("asleep", asleep)
    else:
        counters["switch_refused"] += 1
