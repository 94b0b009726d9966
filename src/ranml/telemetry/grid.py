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

__all__ = [
    "GRID_SIDE",
    "Grid",
    "GridLayout",
    "build_grid",
    "grid_from_coordinates",
    "grid_layout",
    "square_id",
    "square_pos",
]

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


_EARTH_RADIUS_M = 6_371_000.0


def grid_from_coordinates(
    table: TelemetryTable,
    coords: pd.DataFrame,
    cell_size_m: float,
    how: dict[str, str] | None = None,
) -> tuple[TelemetryTable, pd.DataFrame]:
    """Rasterise cells with coordinates onto a square grid: one square-id cell per occupied square.

    Parameters
    ----------
    table
        Telemetry of cells with any ids.
    coords
        One row per cell: ``cell_id`` and either ``lat``/``lon`` (degrees; projected to metres around
        their centre, equirectangular, exact enough at city scale) or ``x``/``y`` (metres).
    cell_size_m
        Side of a square in metres.
    how
        Aggregation per KPI of the cells in one square, ``sum`` (default: volumes add up) or ``mean``
        (utilisations, qualities).

    Returns
    -------
    The grid table (square ids, row 0 in the north) and the mapping ``cell_id → square_id, row, col``.

    Raises
    ------
    DataError
        Missing coordinate columns, a table cell without coordinates, or a grid larger than 100×100.
    """
    if cell_size_m <= 0:
        raise DataError(f"cell size {cell_size_m} m: give a positive size in metres")
    if "cell_id" not in coords.columns:
        raise DataError(f"coordinates: column 'cell_id' is missing (have {list(coords.columns)})")
    c = coords.assign(cell_id=coords["cell_id"].astype(str)).drop_duplicates("cell_id").set_index("cell_id")
    if {"lat", "lon"} <= set(c.columns):
        lat0 = np.deg2rad(float(c["lat"].mean()))
        x = _EARTH_RADIUS_M * np.deg2rad(c["lon"].to_numpy(dtype=float)) * np.cos(lat0)
        y = _EARTH_RADIUS_M * np.deg2rad(c["lat"].to_numpy(dtype=float))
    elif {"x", "y"} <= set(c.columns):
        x, y = c["x"].to_numpy(dtype=float), c["y"].to_numpy(dtype=float)
    else:
        raise DataError(f"coordinates: give lat/lon or x/y columns (have {list(c.columns)})")
    missing = sorted(set(table.cells) - set(c.index))
    if missing:
        raise DataError(f"coordinates: cells {missing[:5]} of the table have no coordinates")
    col = np.floor((x - x.min()) / cell_size_m).astype(int)
    row = np.floor((y.max() - y) / cell_size_m).astype(int)
    if row.max() >= GRID_SIDE or col.max() >= GRID_SIDE:
        raise DataError(f"coordinates: {row.max() + 1}x{col.max() + 1} squares of {cell_size_m:g} m exceed the "
                        f"{GRID_SIDE}x{GRID_SIDE} grid; use larger squares")
    mapping = pd.DataFrame({"row": row, "col": col}, index=c.index)
    mapping["square_id"] = [str(square_id(int(r), int(k))) for r, k in zip(row, col, strict=True)]
    frame = table.frame.assign(cell_id=table.frame["cell_id"].map(mapping["square_id"]))
    agg = {k: (how or {}).get(k, "sum") for k in table.kpis}
    bad = {k: v for k, v in agg.items() if v not in ("sum", "mean")}
    if bad:
        raise DataError(f"aggregation {bad}: use sum or mean per KPI")
    grid = frame.groupby(["cell_id", "timestamp"], as_index=False).agg(agg)
    if table.index_clock:
        grid["timestamp"] = table.step_index(grid["timestamp"])
    out = TelemetryTable.from_frame(grid, table.step, source=table.attrs.get("source", "<table>") + " (gridded)",
                                    origin=table.origin if table.index_clock else None)
    return out, mapping.reset_index()
