"""Traffic steering: hand UEs over from cells forecast to overload to neighbours with headroom.

On every report of a cell, its load over the next ``steer_lead`` periods is the measure
(``reactive``: the latest value; ``forecast``: the forecast's mean over those periods, which
filters minute-scale spikes, or with ``steer_on: bound`` the peak of its upper bound;
``oracle``: the true peak from e2sim). Past PRB saturation the load is read from the connected
UEs, so an overload shows its size. When it reaches ``high``, the neighbour with the lowest load
on the same measure (at most ``low``, awake, not scheduled to sleep within the horizon) receives
enough UEs to bring the source back to the middle of the band — never so many that the target
passes it (no ping-pong) — at most ``max_moves`` per period and ``handover_budget_per_hour`` in
all. A steered cell waits ``cooldown_periods``; a refused handover doubles the wait (back-off).
An A1 policy of type 20008 (``{"high": ..., "low": ...}``) overrides the band.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from ranml.protocols.a1policies import SLEEP_SCHEDULE, TRAFFIC_STEERING, SleepSchedule
from ranml.protocols.e2sm import NrCgi, enumerated_ue_id
from ranml.xapp.a1 import PolicyRequest, instances_after
from ranml.xapp.app import CellReport, XApp
from ranml.xapp.cell_load import MEASUREMENTS, CellView, LoadModel, LoadSettings, load_model, neighbours, observe
from ranml.xapp.context import Context

__all__ = ["TrafficSteeringSettings", "TrafficSteeringState", "app"]

POLICY_TYPE = TRAFFIC_STEERING.policy_type_id  # 20008, the OSC traffic-steering policy type id


class TrafficSteeringSettings(LoadSettings):
    """Traffic steering settings (the descriptor's controls)."""

    high: float = Field(default=0.85, gt=0, le=1.5)
    low: float = Field(default=0.6, gt=0, le=1.0)
    max_moves: int = Field(default=12, ge=1, le=64)
    cooldown_periods: int = Field(default=1, ge=0)
    steer_lead: int = Field(default=2, ge=1, le=96,
                            description="periods ahead a forecast congestion is steered away before it happens")
    steer_on: Literal["mean", "bound"] = Field(
        default="mean", description="steer on the forecast's mean over steer_lead (filters short spikes) "
                                    "or on its upper bound's peak")
    handover_budget_per_hour: int = Field(default=600, ge=1, description="handovers this app may send per hour")


@dataclass
class TrafficSteeringState:
    """The app's state for one run (what its lifespan yields: ``ctx.app_state``)."""

    load: LoadModel
    band: tuple[float, float]  # (high, low): from the settings, or an A1 policy
    schedule: SleepSchedule
    cooldown: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # cell -> until, wait, util
    sent: deque[float] = field(default_factory=deque)  # times of the handovers sent in the last hour


Ctx = Context[TrafficSteeringSettings, TrafficSteeringState]

app = XApp[TrafficSteeringSettings, TrafficSteeringState](
    "traffic-steering", version="1.0.0", config=TrafficSteeringSettings,
    description="Forecast-driven load balancing with E2SM-RC handovers")
app.sends_mtype("RIC_CONTROL_REQ")
_SUBSCRIPTION = app.subscribe_kpm(MEASUREMENTS, period_ms=60_000)


@app.lifespan
async def lifespan(ctx: Context[TrafficSteeringSettings, None]) -> AsyncIterator[TrafficSteeringState]:
    """Build the load model (and the registry forecaster when configured)."""
    s = ctx.config
    async with load_model(ctx, s, {"handovers_sent": 0, "steering_decisions": 0, "backoffs": 0,
                                      "budget_exhausted": 0}) as load:
        high, low = ctx.state.get("band", [s.high, s.low])
        yield TrafficSteeringState(load, (float(high), float(low)), SleepSchedule.combine(
            instances_after(ctx.policies.get(SLEEP_SCHEDULE.policy_type_id, {}))))


@app.on_policy(POLICY_TYPE)
async def band_policy(ctx: Ctx, request: PolicyRequest) -> None:
    """A1 policy ``{"high": 0.8, "low": 0.5}`` replaces the band; deleting it restores the settings."""
    s = ctx.config
    if request.operation == "DELETE":
        band = (s.high, s.low)
    else:
        try:
            band = (float(request.payload.get("high", s.high)), float(request.payload.get("low", s.low)))
        except (TypeError, ValueError):
            raise ValueError(f"high/low must be numbers, got {request.payload}") from None
        if not 0 < band[1] < band[0]:
            raise ValueError(f"need 0 < low < high, got low={band[1]} high={band[0]}")
    ctx.app_state.band = band
    ctx.state.set("band", list(band))


@app.on_policy(SLEEP_SCHEDULE.policy_type_id)
async def sleep_schedule(ctx: Ctx, request: PolicyRequest) -> None:
    """Keep the energy-saving schedule, to avoid steering UEs into cells about to sleep."""
    ctx.app_state.schedule = SleepSchedule.combine(
        instances_after(ctx.policies.get(SLEEP_SCHEDULE.policy_type_id, {}), request))  # ConfigError if malformed


def _pressure(ctx: Ctx, view: CellView) -> float:
    """The cell's load to steer on over the next ``steer_lead`` periods (the latest value with reactive)."""
    s, load = ctx.config, ctx.app_state.load
    if s.policy == "reactive" or not view.forecast.size:
        return view.util
    if s.policy == "forecast" and s.steer_on == "bound":
        return float(load.bound(view, s.steer_lead)[: s.steer_lead].max())
    if s.policy == "forecast":
        return float(view.forecast[: s.steer_lead].mean())
    return float(view.forecast[: s.steer_lead].max())  # the oracle: the true peak


@app.on_report
async def report(ctx: Ctx, r: CellReport) -> None:
    """Update the cell; steer when it is forecast over the band."""
    s, st = ctx.config, ctx.app_state
    load = st.load
    await load.prefetch(r)
    view = observe(ctx, load, r)
    if s.policy == "none" or view.off or r.cell is None:
        return
    high, low = st.band
    cooldown = st.cooldown
    until, wait, _ = cooldown.get(view.key, (0.0, s.cooldown_periods * load.period_s, math.inf))
    if view.time < until:
        return
    pressure = _pressure(ctx, view)
    if pressure < high:
        return
    while st.sent and st.sent[0] <= view.time - 3600.0:
        st.sent.popleft()
    budget = s.handover_budget_per_hour - len(st.sent)
    if budget <= 0:
        ctx.counters["budget_exhausted"] += 1
        return
    schedule = st.schedule
    horizon_s = s.horizon * load.period_s
    loads = {n.key: _pressure(ctx, n) for n in neighbours(load.views, view) if not n.off}
    candidates = [n for n in neighbours(load.views, view) if n.key in loads and loads[n.key] <= low
                  and not schedule.sleeps_within(n.key, view.time, horizon_s)]
    if not candidates:
        return
    target = min(candidates, key=lambda n: loads[n.key])
    goal = (high + low) / 2
    share = (pressure - goal) / max(pressure, 1e-6)
    per_ue = pressure / max(view.ues, 1) * view.capacity / max(target.capacity, 1e-9)  # in the target's shares
    room = max(0, math.floor((goal - loads[target.key]) / max(per_ue, 1e-9)))  # keep the target under the goal
    moves = min(s.max_moves, budget, max(1, math.ceil(share * view.ues)), view.ues, room)
    if moves <= 0:
        return
    target_cgi = NrCgi(r.cell.plmn, int(target.key.split(":")[1], 16))
    ctx.counters["steering_decisions"] += 1
    acked = 0
    for k in range(moves):  # the lowest UE numbers: still connected if the cell lost UEs since its report
        ctx.counters["handovers_sent"] += 1
        st.sent.append(view.time)
        if await ctx.handover(r.meid, enumerated_ue_id(r.cell, k), target_cgi):
            acked += 1
        else:
            break  # the target refused (no headroom, off): stop for this period
    if acked < moves:  # the target refused (full, asleep): back off before trying this cell again
        wait = min(max(wait, load.period_s) * 2, 32 * load.period_s)
        ctx.counters["backoffs"] += 1
    else:
        wait = s.cooldown_periods * load.period_s
    cooldown[view.key] = (view.time + wait, wait, view.util)
    ctx.state.set(f"last_action/{view.key}", {"t": view.time, "target": target.key, "moves": moves, "acked": acked})
