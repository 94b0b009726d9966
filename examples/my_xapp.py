"""A forecasting xApp in about fifty lines: watch PRB load per cell, forecast it, steer early.

ranml xapp descriptor examples/my_xapp.py:app --out /tmp/config-file.json
ranml xapp run examples/my_xapp.py:app --e2mgr-url http://127.0.0.1:8090
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from ranml.protocols.e2sm import enumerated_ue_id
from ranml.xapp import CellReport, Context, XApp


class Settings(BaseModel):
    """The app's controls (validated; the descriptor carries them)."""

    high: float = Field(default=0.8, gt=0, le=1)  # act when the forecast reaches this PRB share
    window: int = Field(default=6, ge=3)  # reports per forecast


app = XApp("load-watch", version="0.1.0", config=Settings, requestor_id=1101)
app.subscribe_kpm(("RRU.PrbUsedDl", "RRC.ConnMean"), period_ms=60_000)
app.sends_mtype("RIC_CONTROL_REQ")


@app.lifespan
async def lifespan(ctx: Context):  # type: ignore[no-untyped-def]
    """Preallocate the window; save the count of actions at shutdown."""
    ctx.scratch["window"] = np.empty((ctx.config.window, 2))  # reused: no allocation per report
    ctx.scratch["acted"] = 0
    yield
    ctx.state.set("acted", ctx.scratch["acted"])


@app.on_report
async def report(ctx: Context, r: CellReport) -> None:
    """Keep the cell's history; when its trend reaches ``high``, hand its newest UE to a neighbour."""
    if r.cell is None:
        return
    assert ctx.features is not None  # the app subscribes to KPM, so the runner built the feature store
    ctx.features.add(r.cell_key, r.time, r.last("RRU.PrbUsedDl", "RRC.ConnMean"))
    if not ctx.features.ready(r.cell_key, ctx.config.window):
        return
    window = ctx.features.window(r.cell_key, ctx.config.window, ctx.scratch["window"])
    prb = window[:, 0] / 100.0
    trend = np.polyfit(np.arange(len(prb)), prb, 1)[0]
    forecast = prb[-1] + 3 * trend  # three reports ahead
    if forecast >= ctx.config.high and window[-1, 1] > 0:
        neighbour = next((c for c in ctx.nodes[r.meid].cells if c != r.cell), None)
        if neighbour is not None:
            ue = enumerated_ue_id(r.cell, int(window[-1, 1]) - 1)
            if await ctx.handover(r.meid, ue, neighbour):
                ctx.scratch["acted"] += 1
