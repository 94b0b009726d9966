"""Importers for the shapes real traffic data comes in, each turned into the tidy table.

``ranml data import FILE --format F --out TABLE.parquet`` calls these:

* ``tidy``: one row per (cell, time) with KPI columns (:func:`~ranml.telemetry.load_table`); the cell
  id may be built from several columns (a beam table's ``gnb`` and ``beam``) and the time column
  may be an integer step index.
* ``wide-columns``: one column per cell, one row per time step (a time column, or a start and a step).
* ``wide-rows``: one row per cell (its id in the first column), one column per time step.
* ``per-cell``: one file per cell (the id is the file name), each with a time column and KPIs.
* ``milan``: raw Telecom Italia Milan files (:func:`~ranml.telemetry.load_milan`).
* ``milan-grid``: Milan aggregates in CSV (``datetime, CellID, countrycode, smsin, ..., internet``,
  hourly or 10-minute), summed over country codes.
* ``grid-array``: a ``(T, H, W)`` NumPy array of one KPI on square ids.

Every importer names the file, and the row or column, of a value it cannot read. The gap policy
(:func:`apply_gap_policy`) and the per-cell gap report come after the import.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ranml.errors import DataError
from ranml.telemetry.gaps import CellGaps, cell_gaps, fill_short_gaps
from ranml.telemetry.grid import GRID_SIDE, square_id
from ranml.telemetry.loaders import load_table
from ranml.telemetry.milan import load_milan
from ranml.telemetry.table import CELL, TIME, TelemetryTable

__all__ = [
    "FORMATS",
    "GapPolicy",
    "ImportOptions",
    "apply_gap_policy",
    "import_table",
]

log = logging.getLogger("ranml.telemetry.importers")

FORMATS = ("tidy", "wide-columns", "wide-rows", "per-cell", "milan", "milan-grid", "grid-array")
GapPolicy = Literal["keep", "reindex", "fill"]


@dataclass(frozen=True)
class ImportOptions:
    """What an importer needs to know that the file does not say.

    Attributes
    ----------
    step
        The reporting period (required except for ``milan``).
    start
        Time of the first step, for files without a time column (``wide-*``, ``grid-array``); without
        it the time axis is a step index.
    kpi
        Name of the one KPI of a ``wide-*`` or ``grid-array`` file.
    time_column
        The time column (``wide-columns``, ``per-cell``; ``tidy`` via ``columns``).
    cell_columns
        ``tidy``: columns whose values, joined by ``-``, make the cell id.
    columns
        ``tidy``: mapping file column → ranml name.
    origin
        Time of step 0 for an integer time column.
    """

    step: str | None = None
    start: str | None = None
    kpi: str = "traffic"
    time_column: str | None = None
    cell_columns: tuple[str, ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    origin: str | None = None


def import_table(paths: Sequence[str | Path], fmt: str, opts: ImportOptions) -> TelemetryTable:
    """Read ``paths`` in format ``fmt`` into a tidy table.

    Raises
    ------
    DataError
        Unknown format, a missing step, a missing column, or a value that is not a number (the
        message names the file and the row or column).
    """
    files = [Path(p) for p in paths]
    for f in files:
        if not f.exists():
            raise DataError(f"{f}: file not found")
    if not files:
        raise DataError("no input file given")
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "milan":
        return load_milan(files)
    if opts.step is None:
        raise DataError(f"format {fmt}: the step is required (e.g. --step 1h)")
    if fmt != "per-cell" and len(files) != 1:
        raise DataError(f"format {fmt}: give one file (per-cell takes one file per cell)")
    if fmt == "tidy":
        return _tidy(files[0], opts)
    if fmt == "wide-columns":
        return _wide_columns(files[0], opts)
    if fmt == "wide-rows":
        return _wide_rows(files[0], opts)
    if fmt == "per-cell":
        return _per_cell(files, opts)
    if fmt == "milan-grid":
        return _milan_grid(files[0], opts)
    return _grid_array(files[0], opts)


def _read_csv(path: Path, **kwargs: object) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)  # type: ignore[call-overload, no-any-return]
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read CSV: {exc}") from None


def _numbers(frame: pd.DataFrame, path: Path, row_offset: int = 2) -> pd.DataFrame:
    """Every column as float; a value that is not a number is named by row (as in the file) and column."""
    out = {}
    for col in frame.columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna() & (frame[col].astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}: row {i + row_offset}, column {col!r}: {frame[col].iloc[i]!r} is not a number")
        out[col] = values.astype("float64")
    return pd.DataFrame(out, index=frame.index)


def _axis(n: int, opts: ImportOptions, path: Path) -> pd.Series:
    """Time of ``n`` consecutive steps: from ``start``, or a step index when no start is given."""
    if opts.start is None:
        return pd.Series(np.arange(n, dtype=np.int64))
    try:
        start = pd.Timestamp(opts.start)
    except (ValueError, TypeError):
        raise DataError(f"{path}: start {opts.start!r} is not a timestamp (e.g. 2013-11-01T00:00)") from None
    return pd.Series(pd.date_range(start, periods=n, freq=pd.Timedelta(opts.step)))  # type: ignore[arg-type]


def _tidy(path: Path, opts: ImportOptions) -> TelemetryTable:
    if not opts.cell_columns:
        return load_table(path, opts.step, dict(opts.columns) or None, origin=opts.origin)
    frame = _read_csv(path) if path.suffix != ".parquet" else pd.read_parquet(path)
    missing = [c for c in opts.cell_columns if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: cell columns {missing} are not in the file (have {list(frame.columns)})")
    frame = frame.rename(columns=dict(opts.columns))
    frame[CELL] = frame[list(opts.cell_columns)].astype(str).agg("-".join, axis=1)
    frame = frame.drop(columns=[c for c in opts.cell_columns if c != CELL])
    kpis = [c for c in frame.columns if c not in (CELL, TIME)]
    assert opts.step is not None
    return TelemetryTable.from_frame(frame, opts.step, kpis=kpis, source=str(path), origin=opts.origin)


def _wide_columns(path: Path, opts: ImportOptions) -> TelemetryTable:
    frame = _read_csv(path)
    if opts.time_column is not None:
        if opts.time_column not in frame.columns:
            raise DataError(f"{path}: time column {opts.time_column!r} is not in the file (have {list(frame.columns)})")
        times = frame.pop(opts.time_column)
    else:
        times = _axis(len(frame), opts, path)
    if frame.shape[1] == 0:
        raise DataError(f"{path}: no cell columns besides the time column")
    values = _numbers(frame, path)
    long = values.assign(**{TIME: times.to_numpy()}).melt(id_vars=[TIME], var_name=CELL, value_name=opts.kpi)
    assert opts.step is not None
    return TelemetryTable.from_frame(long.dropna(subset=[opts.kpi]), opts.step, source=str(path),
                                     origin=opts.origin)


def _wide_rows(path: Path, opts: ImportOptions) -> TelemetryTable:
    frame = _read_csv(path, dtype={0: str})
    if frame.shape[1] < 2:
        raise DataError(f"{path}: a wide-rows file has the cell id in the first column and one column per step")
    cells = frame.iloc[:, 0].astype(str)
    values = _numbers(frame.iloc[:, 1:], path)
    headers = list(values.columns)
    if opts.start is None:
        parsed = pd.to_datetime(pd.Series(headers), errors="coerce")
        times = pd.Series(parsed) if parsed.notna().all() else _axis(len(headers), opts, path)
    else:
        times = _axis(len(headers), opts, path)
    matrix = values.to_numpy().T  # [time, cell]
    long = pd.DataFrame(matrix, columns=cells).assign(**{TIME: times.to_numpy()}).melt(
        id_vars=[TIME], var_name=CELL, value_name=opts.kpi)
    assert opts.step is not None
    return TelemetryTable.from_frame(long.dropna(subset=[opts.kpi]), opts.step, source=str(path),
                                     origin=opts.origin)


def _per_cell(files: Sequence[Path], opts: ImportOptions) -> TelemetryTable:
    time_col = opts.time_column or TIME
    frames = []
    for f in files:
        frame = _read_csv(f)
        if time_col not in frame.columns:
            raise DataError(f"{f}: time column {time_col!r} is not in the file (have {list(frame.columns)}); "
                            "name it with --time-column")
        times = frame.pop(time_col)
        values = _numbers(frame, f)
        values[CELL] = f.name.split(".")[0]
        values[TIME] = times.to_numpy()
        frames.append(values)
    assert opts.step is not None
    return TelemetryTable.from_frame(pd.concat(frames, ignore_index=True), opts.step, source=str(files[0].parent),
                                     origin=opts.origin)


_MILAN_GRID_KPIS = {"smsin": "sms_in", "smsout": "sms_out", "callin": "call_in", "callout": "call_out",
                    "internet": "internet"}


def _milan_grid(path: Path, opts: ImportOptions) -> TelemetryTable:
    frame = _read_csv(path)
    lower = {c.lower(): c for c in frame.columns}
    time_col = lower.get("datetime") or lower.get("time") or lower.get("timestamp")
    cell_col = lower.get("cellid") or lower.get("squareid") or lower.get("square_id")
    if time_col is None or cell_col is None:
        raise DataError(f"{path}: a Milan aggregate has a datetime and a CellID column (have {list(frame.columns)})")
    kpis = {lower[k]: v for k, v in _MILAN_GRID_KPIS.items() if k in lower}
    if not kpis:
        raise DataError(f"{path}: none of the Milan KPI columns {list(_MILAN_GRID_KPIS)} is in the file")
    values = _numbers(frame[list(kpis)], path).fillna(0.0).rename(columns=kpis)
    cells = _numbers(frame[[cell_col]], path)[cell_col]
    if cells.isna().any():
        raise DataError(f"{path}: row {int(np.flatnonzero(cells.isna().to_numpy())[0]) + 2}, column {cell_col!r} "
                        "is empty; every row needs a square id")
    values[CELL] = cells.astype(int).astype(str)
    try:
        values[TIME] = pd.to_datetime(frame[time_col])
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: column {time_col!r} cannot be parsed as time: {exc}") from None
    summed = values.groupby([CELL, TIME], as_index=False).sum()  # over country codes
    assert opts.step is not None
    return TelemetryTable.from_frame(summed, opts.step, source=str(path))


def _grid_array(path: Path, opts: ImportOptions) -> TelemetryTable:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read a NumPy array: {exc}") from None
    if isinstance(array, np.lib.npyio.NpzFile):
        names = list(array.keys())
        if len(names) != 1:
            raise DataError(f"{path}: the .npz holds {names}; keep one (T, H, W) array per file")
        array = array[names[0]]
    if array.ndim != 3:
        raise DataError(f"{path}: expected a (T, H, W) array, got shape {array.shape}")
    T, H, W = array.shape
    if H > GRID_SIDE or W > GRID_SIDE:
        raise DataError(f"{path}: a {H}x{W} grid does not fit the {GRID_SIDE}x{GRID_SIDE} square-id grid")
    cells = [str(square_id(r, c)) for r in range(H) for c in range(W)]  # row-major from square 1
    times = _axis(T, opts, path)
    long = pd.DataFrame(array.reshape(T, H * W).astype("float64"), columns=cells).assign(
        **{TIME: times.to_numpy()}).melt(id_vars=[TIME], var_name=CELL, value_name=opts.kpi)
    assert opts.step is not None
    return TelemetryTable.from_frame(long.dropna(subset=[opts.kpi]), opts.step, source=str(path),
                                     origin=opts.origin)


def apply_gap_policy(table: TelemetryTable, policy: GapPolicy, max_fill: int = 4
                     ) -> tuple[TelemetryTable, list[CellGaps]]:
    """Apply a gap policy and report each cell's gaps as they were in the data (before any fill).

    * ``keep``: missing steps stay absent rows (the benchmark counts them, interpolates short gaps for
      inputs and never scores them);
    * ``reindex``: every cell gets a row on every step of its span, NaN where data is missing;
    * ``fill``: gaps of at most ``max_fill`` steps are linearly interpolated, longer ones stay NaN rows.
    """
    if policy not in ("keep", "reindex", "fill"):
        raise DataError(f"gap policy {policy!r}: use keep, reindex or fill")
    kpis = table.kpis
    mats = [table.to_matrix(k) for k in kpis]
    times, cells = mats[0][0], mats[0][1]
    report = cell_gaps(times, cells, mats[0][2])
    if policy == "keep":
        return table, report
    frames = []
    for c, cell in enumerate(cells):
        block = np.stack([m[2][:, c] for m in mats], axis=1)  # [T, K]
        seen = np.flatnonzero(np.isfinite(block).any(axis=1))
        if len(seen) == 0:
            continue
        span = slice(seen[0], seen[-1] + 1)
        values = fill_short_gaps(block[span], max_fill) if policy == "fill" else block[span]
        frame = pd.DataFrame(values, columns=kpis)
        frame.insert(0, TIME, times[span])
        frame.insert(0, CELL, cell)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    if table.index_clock:
        out[TIME] = table.step_index(out[TIME])
    return TelemetryTable.from_frame(out, table.step, source=table.attrs.get("source", "<table>"),
                                     origin=table.origin if table.index_clock else None), report
