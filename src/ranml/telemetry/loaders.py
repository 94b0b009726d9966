"""Loading tidy telemetry from CSV or Parquet with a column mapping from the config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ranml.errors import DataError
from ranml.telemetry.table import CELL, TIME, TelemetryTable

__all__ = ["load_table"]


def load_table(
    path: str | Path,
    step: str | None = None,
    columns: Mapping[str, str] | None = None,
    kpis: Sequence[str] | None = None,
    sort: bool = False,
    origin: str | None = None,
) -> TelemetryTable:
    """Load a CSV or Parquet file into a :class:`TelemetryTable`.

    Parameters
    ----------
    path
        ``.csv``/``.csv.gz`` or ``.parquet`` file.
    step
        Reporting period; optional for Parquet files written by ranml (it is in their metadata).
    columns
        Mapping from the file's column names to ranml's: ``{"cell": "cell_id", "ts": "timestamp"}``
        (keys are file columns, values are ``cell_id``, ``timestamp`` or a KPI name).
    kpis
        KPI columns to keep (after renaming); all other columns are dropped. Default: all.
    sort
        Accept rows in any order. By default a cell whose timestamps go backwards is an error.
    origin
        For an integer time column (a step index): the time of step 0 (default 1970-01-01 00:00;
        calendar features then take step 0 as midnight).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    name = path.name.lower()
    if name.endswith(".parquet") or name.endswith(".pq"):
        import pyarrow.parquet as pq

        raw = pq.read_table(str(path))
        meta = raw.schema.metadata or {}
        declared = meta.get(b"ranml.step")
        step = step or (declared.decode() if declared else None)
        stored_origin = meta.get(b"ranml.origin")
        origin = origin or (stored_origin.decode() if stored_origin else None)
        frame = raw.to_pandas()
    elif name.endswith(".csv") or name.endswith(".csv.gz"):
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"{path}: cannot read CSV: {exc}") from None
    else:
        raise DataError(f"{path}: unknown file type; use .csv, .csv.gz or .parquet")
    if columns:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise DataError(
                f"{path}: columns {absent} named in the mapping are not in the file "
                f"(have {list(frame.columns)})"
            )
        frame = frame.rename(columns=dict(columns))
    if step is None:
        raise DataError(f"{path}: no step declared; set `step:` (e.g. '15min') in the data config")
    if kpis is None:
        kpis = [c for c in frame.columns if c not in (CELL, TIME)]
    return TelemetryTable.from_frame(frame, step, kpis=kpis, source=str(path), require_sorted=not sort,
                                     origin=origin)
