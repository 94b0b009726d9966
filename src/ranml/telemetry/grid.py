"""Grid builder for spatio-temporal models (the Milan 100×100 square grid convention).

Square ids run row-major from 1: ``id = 100·row + col + 1``. A grid tensor has shape
``[time, rows, cols]``; cells absent from the table are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ranml.errors import DataError
from ranml.telemetry.table import TelemetryTable

__all__ = ["GRID_SIDE", "Grid", "GridLayout", "build_grid", "grid_layout", "square_id", "square_pos"]

GRID_SIDE = 100


def square_id(row: int, col: int, side: int = GRID_SIDE) -> int:
    """Square id of ``(row, col)``: ``side·row + col + 1``."""
    return side * row + col + 1


def square_pos(sid: int, side: int = GRID_SIDE) -> tuple[int, int]:
    """``(row, col)`` of a square id."""
    if not 1 <= sid <= side * side:
        raise DataError(f"square id {sid} is outside a {side}x{side} grid (1..{side * side})")
    return (sid - 1) // side, (sid - 1) % side


@dataclass(frozen=True)
class Grid:
    """A spatio-temporal tensor ``values[time, row, col]`` for one KPI."""

    times: pd.DatetimeIndex
    values: np.ndarray
    origin: tuple[int, int]


@dataclass(frozen=True)
class GridLayout:
    """Where cells sit on a grid window: ``rows[j], cols[j]`` of cell ``j``, relative to ``origin``."""

    origin: tuple[int, int]
    shape: tuple[int, int]
    rows: np.ndarray
    cols: np.ndarray


def grid_layout(cells: list[str], side: int = GRID_SIDE) -> GridLayout:
    """The bounding-box layout of square-id ``cells`` (every cell lies inside it).

    Raises
    ------
    DataError
        A cell id is not a square id of a ``side × side`` grid.
    """
    try:
        ids = [int(c) for c in cells]
    except ValueError:
        raise DataError("grid building needs numeric square ids in cell_id") from None
    pos = np.array([square_pos(i, side) for i in ids]).reshape(-1, 2)
    r0, c0 = int(pos[:, 0].min()), int(pos[:, 1].min())
    shape = (int(pos[:, 0].max()) + 1 - r0, int(pos[:, 1].max()) + 1 - c0)
    return GridLayout(origin=(r0, c0), shape=shape, rows=pos[:, 0] - r0, cols=pos[:, 1] - c0)


def build_grid(
    table: TelemetryTable,
    kpi: str,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
    side: int = GRID_SIDE,
) -> Grid:
    """Arrange a KPI of square-id cells on the grid.

    Parameters
    ----------
    table
        Telemetry whose ``cell_id`` values are square ids.
    kpi
        KPI column.
    rows, cols
        Half-open ``(start, stop)`` window of the grid; default: the bounding box of the cells.
    """
    times, cells, matrix = table.to_matrix(kpi)
    try:
        ids = [int(c) for c in cells]
    except ValueError:
        raise DataError("grid building needs numeric square ids in cell_id") from None
    pos = np.array([square_pos(i, side) for i in ids])
    r0, r1 = rows if rows else (int(pos[:, 0].min()), int(pos[:, 0].max()) + 1)
    c0, c1 = cols if cols else (int(pos[:, 1].min()), int(pos[:, 1].max()) + 1)
    out = np.full((len(times), r1 - r0, c1 - c0), np.nan)
    for j, (r, c) in enumerate(pos):
        if r0 <= r < r1 and c0 <= c < c1:
            out[:, r - r0, c - c0] = matrix[:, j]
    return Grid(times=times, values=out, origin=(r0, c0))
