"""The Telecom Italia Milan open data set (raw "sms-call-internet-mi" files).

Each raw line is tab-separated: ``square_id``, time interval start (Unix ms), ``country_code``,
``sms_in``, ``sms_out``, ``call_in``, ``call_out``, ``internet``. An empty field means no activity
(zero). Slots are 10 minutes; one square has one line per country code, which we sum.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ranml.errors import DataError
from ranml.telemetry.table import CELL, TIME, TelemetryTable

__all__ = ["MILAN_KPIS", "MILAN_STEP", "load_milan"]

MILAN_KPIS = ["sms_in", "sms_out", "call_in", "call_out", "internet"]
MILAN_STEP = "10min"
_COLUMNS = ["square_id", "time_ms", "country_code", *MILAN_KPIS]


def load_milan(paths: Iterable[str | Path]) -> TelemetryTable:
    """Read one or more raw Milan files and aggregate over country codes.

    Returns a table with one row per (square, 10-minute slot); ``cell_id`` is the square id as text.
    """
    frames = []
    for path in paths:
        p = Path(path)
        if not p.exists():
            raise DataError(f"{p}: file not found")
        try:
            raw = pd.read_csv(
                p, sep="\t", header=None, names=_COLUMNS, dtype={"square_id": "Int64"},
                na_values=[""], keep_default_na=False,
            )
        except (ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"{p}: not a Milan raw file (tab-separated, 8 columns): {exc}") from None
        if raw["square_id"].isna().any() or raw["time_ms"].isna().any():
            row = int(np.flatnonzero(raw["square_id"].isna() | raw["time_ms"].isna())[0]) + 1
            raise DataError(f"{p}:{row}: square_id and time interval are required on every line")
        frames.append(raw)
    if not frames:
        raise DataError("no Milan files given")
    raw = pd.concat(frames, ignore_index=True)
    raw[MILAN_KPIS] = raw[MILAN_KPIS].astype("float64").fillna(0.0)
    agg = raw.groupby(["square_id", "time_ms"], as_index=False)[MILAN_KPIS].sum()
    agg[CELL] = agg["square_id"].astype(int).astype(str)
    agg[TIME] = pd.to_datetime(agg["time_ms"].astype("int64"), unit="ms")
    return TelemetryTable.from_frame(agg[[CELL, TIME, *MILAN_KPIS]], MILAN_STEP, source="milan")
