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

from ranml.telemetry import TelemetryTable, cell_gaps

__all__ = ["GapReport", "gap_counts"]


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


def gap_counts(raw: np.ndarray, filled: np.ndarray, cells: list[str], times: pd.DatetimeIndex,
               table: TelemetryTable) -> dict[str, Any]:
    """Missing target values inside each cell's span, the longest run, and what was interpolated."""
    per_cell = cell_gaps(times, cells, raw)
    worst = max(per_cell, key=lambda g: g.longest)
    when = None
    if worst.longest_start is not None:
        when = f"step {int(table.step_index(pd.DatetimeIndex([worst.longest_start]))[0])}" if table.index_clock \
            else str(worst.longest_start)
    return {"cells": len(cells), "cells_with_gaps": sum(g.gaps > 0 for g in per_cell),
            "missing_points": sum(g.missing for g in per_cell), "longest_gap_steps": worst.longest,
            "longest_gap_cell": worst.cell if worst.longest else None, "longest_gap_start": when,
            "points_interpolated": int((np.isnan(raw) & np.isfinite(filled)).sum())}
