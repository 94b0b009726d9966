"""Traffic steering: hand UEs over from cells forecast to overload to neighbours with headroom.

On every report of a cell: when its forecast utilisation over the horizon (the upper bound with
the ``forecast`` policy, the latest value with ``reactive``) reaches ``high``, the neighbour with
the lowest forecast (at most ``low``, awake) receives enough UEs to bring the source back to the
middle of the band, at most ``max_moves`` per period. A cell that was just steered waits
``cooldown_periods``; when the next report shows no relief (or handovers were refused), the
cooldown doubles (back-off). An A1 policy of type 20008 (``{"high": ..., "low": ...}``) overrides
the band; cells that an A1 sleep schedule (type 21000, from the energy-saving rApp) puts to sleep
now or within the horizon are never chosen as targets.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import Field

from ranml.protocols.a1policies import SLEEP_SCHEDULE, TRAFFIC_STEERING, SleepSchedule
from ranml.protocols.e2sm import NrCgi, enumerated_ue_id
from ranml.xapp.a1 import PolicyRequest, instances_after
from ranml.xapp.app import CellReport, XApp
from ranml.xapp.cell_load import MEASUREMENTS, LoadModel, LoadSettings, load_model, neighbours, observe
from ranml.xapp.context import Context

__all__ = ["TrafficSteeringSettings", "TrafficSteeringState", "app"]

POLICY_TYPE = TRAFFIC_STEERING.policy_type_id  # 20008, the OSC traffic-steering policy type id


class TrafficSteeringSettings(LoadSettings):
    """Traffic steering settings (the descriptor's controls)."""

    high: float = Field(default=0.85, gt=0, le=1.5)
    low: float = Field(default=0.6, gt=0, le=1.0)
    max_moves: int = Field(default=6, ge=1, le=64)
    cooldown_periods: int = Field(default=2, ge=0)


@dataclass
class TrafficSteeringState:
    """The app's state for one run (what its lifespan yields: ``ctx.app_state``)."""

    load: LoadModel
    band: tuple[float, float]  # (high, low): from the settings, or an A1 policy
    schedule: SleepSchedule
    cooldown: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # cell -> until, wait, util


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
    async with load_model(ctx, s, {"handovers_sent": 0, "steering_decisions": 0, "backoffs": 0}) as load:
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


@app.on_report
async def report(ctx: Ctx, r: CellReport) -> None:
    """Update the cell; steer when it is forecast over the band."""
    s, st = ctx.config, ctx.app_state
    load = st.load
    view = observe(ctx, load, r)
    if s.policy == "none" or view.off or r.cell is None:
        return
    high, low = st.band
    cooldown = st.cooldown
    until, wait, util_then = cooldown.get(view.key, (0.0, s.cooldown_periods * load.period_s, math.inf))
    if view.time < until:
        return
    if view.time >= until > 0 and view.util >= util_then - 0.02:
        wait = min(wait * 2, 32 * load.period_s)  # no relief from the last steering: back off
        ctx.counters["backoffs"] += 1
    pressure = view.upper if s.policy == "forecast" else view.util
    if pressure < high:
        return
    schedule = st.schedule
    horizon_s = s.horizon * load.period_s
    candidates = [n for n in neighbours(load.views, view) if not n.off
                  and (n.upper if s.policy == "forecast" else n.util) <= low
                  and not schedule.sleeps_within(n.key, view.time, horizon_s)]
    if not candidates:
        return
    target = min(candidates, key=lambda n: n.upper if s.policy == "forecast" else n.util)
    goal = (high + low) / 2
    share = (pressure - goal) / max(pressure, 1e-6)
    moves = min(s.max_moves, max(1, math.ceil(share * view.ues)), view.ues)
    target_cgi = NrCgi(r.cell.plmn, int(target.key.split(":")[1], 16))
    ctx.counters["steering_decisions"] += 1
    acked = 0
    for k in range(view.ues - 1, view.ues - 1 - moves, -1):
        ctx.counters["handovers_sent"] += 1
        if await ctx.handover(r.meid, enumerated_ue_id(r.cell, k), target_cgi):
            acked += 1
        else:
            break  # the target refused (no headroom, off): stop for this period
    cooldown[view.key] = (view.time + wait, s.cooldown_periods * load.period_s if acked else wait * 2, view.util)
    ctx.state.set(f"last_action/{view.key}", {"t": view.time, "target": target.key, "moves": moves, "acked": acked})
