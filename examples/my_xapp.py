"""A forecasting xApp in about fifty lines: watch PRB load per cell, forecast it, steer early.

ranml xapp descriptor examples/my_xapp.py:app --out /tmp/config-file.json
ranml xapp run examples/my_xapp.py:app --e2mgr-url http://127.0.0.1:8090
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from ranml.config import AppSettings
from ranml.protocols.e2sm import enumerated_ue_id
from ranml.xapp import CellReport, Context, XApp


class Settings(AppSettings):
    """The app's controls (validated, unknown keys refused; the descriptor carries them)."""

    high: float = Field(default=0.8, gt=0, le=1)  # act when the forecast reaches this PRB share
    window: int = Field(default=6, ge=3)  # reports per forecast


@dataclass
class State:
    """What the app keeps for a run (its lifespan yields it: ``ctx.app_state``)."""

    window: np.ndarray  # reused: no allocation per report
    acted: int = 0


app = XApp[Settings, State]("load-watch", version="0.1.0", config=Settings, requestor_id=1101)
app.subscribe_kpm(("RRU.PrbUsedDl", "RRC.ConnMean"), period_ms=60_000)
app.sends_mtype("RIC_CONTROL_REQ")


@app.lifespan
async def lifespan(ctx: Context[Settings, None]) -> AsyncIterator[State]:
    """Preallocate the window; save the count of actions at shutdown."""
    state = State(np.empty((ctx.config.window, 2)))
    yield state
    ctx.state.set("acted", state.acted)


@app.on_report
async def report(ctx: Context[Settings, State], r: CellReport) -> None:
    """Keep the cell's history; when its trend reaches ``high``, hand its newest UE to a neighbour."""
    if r.cell is None:
        return
    assert ctx.features is not None  # the app subscribes to KPM, so the runner built the feature store
    ctx.features.add(r.cell_key, r.time, r.last("RRU.PrbUsedDl", "RRC.ConnMean"))
    if not ctx.features.ready(r.cell_key, ctx.config.window):
        return
    window = ctx.features.window(r.cell_key, ctx.config.window, ctx.app_state.window)
    prb = window[:, 0] / 100.0
    trend = np.polyfit(np.arange(len(prb)), prb, 1)[0]
    forecast = prb[-1] + 3 * trend  # three reports ahead
    if forecast >= ctx.config.high and window[-1, 1] > 0:
        neighbour = next((c for c in ctx.nodes[r.meid].cells if c != r.cell), None)
        if neighbour is not None:
            ue = enumerated_ue_id(r.cell, int(window[-1, 1]) - 1)
            if await ctx.handover(r.meid, ue, neighbour):
                ctx.app_state.acted += 1
