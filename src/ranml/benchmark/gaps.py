"""Gaps in telemetry: runs of missing steps, short-gap interpolation and the accounting of both.

Missing reports are missing rows (NaN on the step grid). Windowing interpolates interior gaps of at
most ``max_gap_steps`` for the inputs and drops windows touching longer ones; :class:`GapReport`
says how much of each happened, so that no result rests on invented data without saying so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from ranml.telemetry import TelemetryTable

__all__ = ["GapReport", "fill_short_gaps", "gap_counts", "nan_runs"]


@dataclass(frozen=True)
class GapReport:
    """What windowing did about missing data (target KPI), for ``run.json``, the leaderboard and the report.

    Attributes
    ----------
    cells, cells_with_gaps
        Cells in the data, and those with at least one missing target step inside their span.
    missing_points
        Missing target values on the step grid, inside each cell's span.
    longest_gap_steps, longest_gap_cell, longest_gap_start
        The longest run of missing target steps, where and when it starts.
    points_interpolated
        Target values filled by interpolation (gaps of at most ``max_gap_steps``); used as inputs
        and training targets only.
    windows_dropped
        Series windows (all splits) touching a longer gap, in any KPI.
    test_targets, test_targets_masked
        Target values scored in the test split, and those left out because they were interpolated.
    """

    cells: int
    cells_with_gaps: int
    missing_points: int
    longest_gap_steps: int
    longest_gap_cell: str | None
    longest_gap_start: str | None
    points_interpolated: int
    windows_dropped: int
    test_targets: int
    test_targets_masked: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


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


def gap_counts(raw: np.ndarray, filled: np.ndarray, cells: list[str], times: pd.DatetimeIndex,
               table: TelemetryTable) -> dict[str, Any]:
    """Missing target values inside each cell's span, the longest run, and what was interpolated."""
    longest, where, when, missing, with_gaps = 0, None, None, 0, 0
    for c in range(raw.shape[1]):
        starts, ends = nan_runs(raw[:, c])
        interior = (starts > 0) & (ends < raw.shape[0])
        lengths = (ends - starts)[interior]
        if len(lengths):
            with_gaps += 1
            missing += int(lengths.sum())
            k = int(np.argmax(lengths))
            if lengths[k] > longest:
                longest, where = int(lengths[k]), cells[c]
                t0 = times[int(starts[interior][k])]
                when = f"step {int(table.step_index(pd.DatetimeIndex([t0]))[0])}" if table.index_clock \
                    else str(t0)
    interpolated = int((np.isnan(raw) & np.isfinite(filled)).sum())
    return {"cells": raw.shape[1], "cells_with_gaps": with_gaps, "missing_points": missing,
            "longest_gap_steps": longest, "longest_gap_cell": where, "longest_gap_start": when,
            "points_interpolated": interpolated}
