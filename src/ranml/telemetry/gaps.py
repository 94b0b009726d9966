"""Gaps in a telemetry series: runs of missing steps, short-gap interpolation, per-cell gap reports.

A missing report is a NaN on the step grid (:meth:`TelemetryTable.to_matrix`). These helpers find the
runs, fill the short interior ones and count them per cell; the benchmark and the importers share
them, so that a gap is counted the same way wherever it is reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CellGaps", "cell_gaps", "fill_short_gaps", "nan_runs"]


@dataclass(frozen=True)
class CellGaps:
    """One cell's interior gaps: missing steps, the longest run and where it starts."""

    cell: str
    missing: int
    gaps: int
    longest: int
    longest_start: pd.Timestamp | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        out = asdict(self)
        out["longest_start"] = None if self.longest_start is None else str(self.longest_start)
        return out


def nan_runs(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of every NaN run of a 1-D array."""
    na = np.isnan(col)
    edges = np.diff(np.concatenate(([0], na.view(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def fill_short_gaps(values: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate interior NaN runs of at most ``max_gap`` steps along axis 0 (per column).

    Longer runs, and runs at either end, stay NaN: windows touching them are dropped.
    """
    out = np.array(values, dtype=np.float64, copy=True)
    if max_gap <= 0:
        return out
    steps = np.arange(out.shape[0])
    for c in range(out.shape[1]):
        col = out[:, c]
        na = np.isnan(col)
        if not na.any() or na.all():
            continue
        fill = np.zeros_like(na)
        for a, b in zip(*nan_runs(col), strict=True):
            if b - a <= max_gap and a > 0 and b < len(col):
                fill[a:b] = True
        if fill.any():
            ok = ~na
            col[fill] = np.interp(steps[fill], steps[ok], col[ok])
    return out


def cell_gaps(times: pd.DatetimeIndex, cells: list[str], matrix: np.ndarray) -> list[CellGaps]:
    """Interior gaps of every column of ``matrix[time, cell]`` (leading and trailing NaN are outside a cell's span)."""
    out = []
    for c, cell in enumerate(cells):
        col = matrix[:, c]
        ok = np.flatnonzero(np.isfinite(col))
        if len(ok) == 0:
            out.append(CellGaps(str(cell), 0, 0, 0, None))
            continue
        starts, ends = nan_runs(col[ok[0] : ok[-1] + 1])
        lengths = ends - starts
        k = int(np.argmax(lengths)) if len(lengths) else -1
        out.append(CellGaps(str(cell), int(lengths.sum()), len(lengths), int(lengths[k]) if k >= 0 else 0,
                            times[ok[0] + starts[k]] if k >= 0 else None))
    return out
