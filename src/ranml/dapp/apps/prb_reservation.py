"""PRB reservation: reserve, per cell, the PRB share the next slots are forecast to need.

The decision for each cell is the highest forecast PRB usage over the horizon plus ``margin``
(clipped to 0..1): a scheduling hint that keeps room for the coming load. The fallback, used
when the slot budget leaves no time for the forecast, reserves the latest usage plus twice the
margin.
"""

from __future__ import annotations

import numpy as np

from ranml.dapp.loop import DApp

__all__ = ["MARGIN", "app"]

MARGIN = np.float32(0.05)

app = DApp("prb-reservation", version="1.0.0", window=32, horizon=4,
           description="Slot-level PRB forecast -> per-cell PRB reservation hint")


@app.decide
def reserve(forecast: np.ndarray, cells: np.ndarray, out: np.ndarray) -> None:
    """Out = clip(max over the horizon + margin, 0, 1), computed in place."""
    np.max(forecast, axis=1, out=out)
    out += MARGIN
    np.clip(out, 0.0, 1.0, out=out)


@app.fallback
def reserve_latest(forecast: np.ndarray, cells: np.ndarray, out: np.ndarray) -> None:
    """Latest usage plus twice the margin."""
    np.add(forecast[:, 0], 2 * MARGIN, out=out)
    np.clip(out, 0.0, 1.0, out=out)
