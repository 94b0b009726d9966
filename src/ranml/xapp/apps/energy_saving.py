"""Energy saving: a receding-horizon plan of which capacity cells sleep, woken ahead of the rise.

Cell number 1 of each node (up to ``coverage_cells``) is the coverage cell and never sleeps; a
sleeping capacity cell's users are carried by its node's awake cells at ``1 / offload_efficiency``
of the capacity. Once per reporting period and node (when every cell of the node has reported):

1. the node's total demand ``T`` is estimated from what its awake cells carry, the sleepers'
   share of it (learnt while the whole node is awake) counted at their real cost;
2. ``T`` is forecast over the horizon as one series (``forecast``: the model; ``reactive``: the
   latest value held) and bounded per lead by the ``quantile`` of that predictor's own past
   errors at that lead; ``oracle`` takes each cell's true future demand from e2sim instead;
3. :func:`ranml.xapp.sleep_planner.plan_node` decides which cells to switch off now (they can
   stay off for the wake-up delay plus ``min_sleep_periods``) and which to start waking now
   (they are needed within the wake-up delay, ``wake_delay_s``, plus one period of control
   latency), keeping the awake cells under ``absorb_below`` with ``hysteresis``.

A cell woken by the app stays awake at least ``min_dwell_periods``. An A1 sleep schedule
(policy type 21000, from the energy-saving rApp's day-ahead forecast) restricts the cells it
lists: such a cell sleeps only inside one of its windows, and is woken ``schedule_wake_lead_s``
before the window ends, whatever the short-term plan says.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from ranml.protocols.a1policies import SLEEP_SCHEDULE, SleepSchedule
from ranml.protocols.e2sm import NrCgi
from ranml.xapp.a1 import PolicyRequest, instances_after
from ranml.xapp.app import CellReport, XApp
from ranml.xapp.cell_load import MEASUREMENTS, CellView, LoadModel, LoadSettings, load_model, observe
from ranml.xapp.context import Context
from ranml.xapp.sleep_planner import NodeCell, PlannerSettings, plan_node

__all__ = ["EnergySavingSettings", "EnergySavingState", "app"]


class EnergySavingSettings(LoadSettings):
    """Energy saving settings (the descriptor's controls)."""

    absorb_below: float = Field(default=0.85, gt=0, le=1.0,
                                description="highest planned utilisation of a node's awake cells")
    hysteresis: float = Field(default=0.05, ge=0, lt=0.5, description="switch off only this far under absorb_below")
    offload_efficiency: float = Field(default=0.8, gt=0, le=1.0,
                                      description="a sleeper's demand costs its node's awake cells 1/efficiency")
    wake_delay_s: float = Field(default=300.0, ge=0, description="the RAN's wake-up delay (from its O1 config)")
    min_sleep_periods: int = Field(default=2, ge=0, description="a switch-off must last this long past its wake-up")
    sleep_below: float = Field(default=1.0, gt=0, le=1.5,
                               description="a cell whose own demand bound reaches this is never switched off")
    coverage_cells: int = Field(default=1, ge=0, description="cells numbered 1..N of each node never sleep")
    min_dwell_periods: int = Field(default=5, ge=0, description="a woken cell stays awake at least this long")
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
    waking: dict[str, float] = field(default_factory=dict)  # cell -> time this app started waking it
    cgi: dict[str, NrCgi] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)  # cell -> its share of its node's demand
    planned: dict[str, float] = field(default_factory=dict)  # node -> period end last planned
    first_seen: dict[str, float] = field(default_factory=dict)  # node -> its first period end
    node_cells: dict[str, set[str]] = field(default_factory=dict)  # node -> its cells' keys


Ctx = Context[EnergySavingSettings, EnergySavingState]

app = XApp[EnergySavingSettings, EnergySavingState](
    "energy-saving", version="2.0.0", config=EnergySavingSettings, requestor_id=1002,
    description="Forecast-driven cell switch-off with E2SM-CCC")  # 1001: traffic steering
app.sends_mtype("RIC_CONTROL_REQ")
_SUBSCRIPTION = app.subscribe_kpm(MEASUREMENTS, period_ms=60_000)


@app.lifespan
async def lifespan(ctx: Context[EnergySavingSettings, None]) -> AsyncIterator[EnergySavingState]:
    """Build the load model; restore the cells this app put to sleep before a restart."""
    async with load_model(ctx, ctx.config, {"switch_off": 0, "switch_on": 0, "switch_refused": 0,
                                            "plans": 0}) as load:
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


def _planner(s: EnergySavingSettings, period_s: float) -> PlannerSettings:
    return PlannerSettings(absorb_below=s.absorb_below, hysteresis=min(s.hysteresis, s.absorb_below / 2),
                           efficiency=s.offload_efficiency, wake_steps=math.ceil(s.wake_delay_s / period_s) + 1,
                           min_sleep_steps=s.min_sleep_periods)


@app.on_report
async def report(ctx: Ctx, r: CellReport) -> None:
    """Update the cell; once every cell of its node has reported this period, plan the node."""
    s, st = ctx.config, ctx.app_state
    await st.load.prefetch(r)
    view = observe(ctx, st.load, r)
    if r.cell is None:
        return
    st.cgi[view.key] = NrCgi(r.cell.plmn, r.cell.cell_id)
    if not view.off:
        st.waking.pop(view.key, None)
    cells = st.node_cells.setdefault(view.meid, set())
    cells.add(view.key)
    first = st.first_seen.setdefault(view.meid, view.time)
    if s.policy == "none" or st.planned.get(view.meid) == view.time or view.time == first:
        return  # (a node's first period: which cells it has is known once they have all reported)
    period = st.load.period_s
    members = [v for k in cells if (v := st.load.views[k]).time >= view.time - 5 * period]  # silent 5: gone
    if any(v.time != view.time for v in members):
        return  # the node's other cells have not reported this period yet
    st.planned[view.meid] = view.time
    await _plan_node(ctx, view.meid, members)


def _demand_paths(ctx: Ctx, meid: str, cells: list[CellView], steps: int) -> dict[str, np.ndarray]:
    """Each cell's own demand bound per future period, as a share of its capacity."""
    s, st = ctx.config, ctx.app_state
    load = st.load
    t = cells[0].time
    if s.policy == "oracle" and load.oracle is not None:
        true = {c.key: load.oracle.get(c.key, t) for c in cells}
        if all(v is not None for v in true.values()):
            return {k: v for k, v in true.items() if v is not None}
    total_cap = sum(c.capacity for c in cells) or 1.0
    shares = {c.key: st.shares.get(c.key, c.capacity / total_cap) for c in cells}
    carried = sum(c.util * c.capacity for c in cells if not c.off)
    extra = (1.0 / s.offload_efficiency - 1.0) * sum(shares[c.key] for c in cells if c.off)
    demand = carried / (1.0 + extra)
    if carried > 0 and all(not c.off and c.util < 0.98 for c in cells):
        for c in cells:  # the whole node awake and unsaturated: what each cell carries is its own
            st.shares[c.key] = 0.8 * shares[c.key] + 0.2 * c.util * c.capacity / carried
    node = load.track(f"node/{meid}", meid, t, demand / total_cap, sum(c.ues for c in cells), False)
    bound = load.bound(node, steps) * total_cap
    return {c.key: shares[c.key] * bound / max(c.capacity, 1e-9) for c in cells}


async def _plan_node(ctx: Ctx, meid: str, members: list[CellView]) -> None:
    s, st = ctx.config, ctx.app_state
    period = st.load.period_s
    planner = _planner(s, period)
    now = members[0].time
    # cells off for reasons of their own (outage, another app) are not this app's to plan
    cells = [v for v in members if not v.off or v.key in st.asleep or v.key in st.waking]
    steps = max(s.horizon, planner.wake_steps + planner.min_sleep_steps)
    paths = _demand_paths(ctx, meid, cells, steps)
    schedule, wake = st.schedule, []
    plan_cells = []
    for v in cells:
        sleepable = _cell_number(v.key) > s.coverage_cells
        asleep = v.key in st.asleep and v.off
        may_sleep = (sleepable and not v.off and now - st.changed.get(v.key, -1e18) >= s.min_dwell_periods * period
                     and float(paths[v.key][: planner.wake_steps + planner.min_sleep_steps + 1].max()) < s.sleep_below)
        if schedule.covers(v.key):
            window = schedule.window_at(v.key, now)
            ends = window is None or now >= window[1] - s.schedule_wake_lead_s
            if asleep and ends:
                wake.append(v.key)
            may_sleep = may_sleep and window is not None and \
                now + s.min_dwell_periods * period <= window[1] - s.schedule_wake_lead_s
        plan_cells.append(NodeCell(v.key, v.capacity, paths[v.key], sleepable, asleep, may_sleep))
    plan = plan_node(plan_cells, planner)
    ctx.counters["plans"] += 1
    for key in dict.fromkeys((*wake, *plan.wake)):
        await _switch(ctx, meid, key, now, sleep=False)
    for key in plan.sleep:
        await _switch(ctx, meid, key, now, sleep=True)


async def _switch(ctx: Ctx, meid: str, key: str, now: float, sleep: bool) -> None:
    st, counters = ctx.app_state, ctx.counters
    if await ctx.switch_cell(meid, st.cgi[key], sleep):
        st.changed[key] = now
        if sleep:
            st.asleep[key] = now
            counters["switch_off"] += 1
        else:
            st.asleep.pop(key, None)
            st.waking[key] = now
            counters["switch_on"] += 1
        ctx.state.set("asleep", st.asleep)
    else:
        counters["switch_refused"] += 1
