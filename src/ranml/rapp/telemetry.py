"""O1 telemetry in: VES measurement events and PM files, into the benchmark's tidy table.

A VES (7.x) measurement event carries one reporting period of a managed element; ranml reads
``measurementFields.additionalMeasurements``: one entry per cell, ``name`` = the cell id and
``hashMap`` = KPI name → value (VES carries them as strings)::

    {"event": {"commonEventHeader": {"domain": "measurement", "sourceName": "gnb_001",
                                     "startEpochMicrosec": 1772409600000000, ...},
               "measurementFields": {"measurementInterval": 900, "measurementFieldsVersion": "4.0",
                                     "additionalMeasurements": [
                                         {"name": "00f110:000000401", "hashMap": {"prb_util": "0.42"}}]}}}

A ``notification`` event with ``notificationFields.arrayOfNamedHashMap`` entries whose hashMap
holds a ``location`` is a PM file-ready notification: the file (CSV or JSON with ``cell_id``,
``timestamp`` and KPI columns; a local path or ``file://`` URL) is read into the table.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from ranml.errors import DataError
from ranml.telemetry import CELL, TIME, TelemetryTable

__all__ = ["TelemetryStore", "pm_file_rows", "ves_rows"]

log = logging.getLogger("ranml.rapp.telemetry")

Row = dict[str, Any]


def _events(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict) and "eventList" in body:
        events = body["eventList"]
    elif isinstance(body, dict) and "event" in body:
        events = [body["event"]]
    else:
        raise DataError("VES body: expected {'event': {...}} or {'eventList': [...]}")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise DataError("VES body: eventList must be a list of event objects")
    return events


def ves_rows(body: Any) -> tuple[list[Row], list[str]]:
    """Rows from VES measurement events, and the PM file locations of file-ready notifications."""
    rows: list[Row] = []
    files: list[str] = []
    for i, event in enumerate(_events(body)):
        header = event.get("commonEventHeader") or {}
        domain = header.get("domain")
        if domain == "notification":
            for item in (event.get("notificationFields") or {}).get("arrayOfNamedHashMap") or []:
                location = (item.get("hashMap") or {}).get("location")
                if location:
                    files.append(str(location))
            continue
        if domain != "measurement":
            continue
        try:
            ts = pd.Timestamp(int(header["startEpochMicrosec"]), unit="us")
        except (KeyError, TypeError, ValueError):
            raise DataError(f"VES event {i}: commonEventHeader.startEpochMicrosec is required (integer µs)") from None
        for j, m in enumerate((event.get("measurementFields") or {}).get("additionalMeasurements") or []):
            cell, values = m.get("name"), m.get("hashMap") or {}
            if not cell or not isinstance(values, dict):
                raise DataError(f"VES event {i}: additionalMeasurements[{j}] needs name (cell id) and hashMap")
            row: Row = {CELL: str(cell), TIME: ts}
            for key, value in values.items():
                try:
                    row[key] = float(value)
                except (TypeError, ValueError):
                    raise DataError(f"VES event {i}: additionalMeasurements[{j}].hashMap.{key}: "
                                    f"{value!r} is not a number") from None
            rows.append(row)
    return rows, files


def pm_file_rows(location: str) -> list[Row]:
    """Rows of a PM file (CSV or JSON records with cell_id, timestamp and KPI columns)."""
    parsed = urlparse(location)
    path = Path(parsed.path if parsed.scheme == "file" else location)
    try:
        if path.suffix == ".json":
            frame = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
        else:
            frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"PM file {location}: cannot read it: {exc}") from None
    missing = {CELL, TIME} - set(frame.columns)
    if missing:
        raise DataError(f"PM file {location}: missing column(s) {sorted(missing)}")
    frame[TIME] = pd.to_datetime(frame[TIME], utc=True).dt.tz_localize(None)
    frame[CELL] = frame[CELL].astype(str)
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


class TelemetryStore:
    """Rows as they arrive; the tidy table on demand (duplicates: the latest report wins).

    Parameters
    ----------
    step
        The reporting period of the telemetry (``"15min"``).
    max_rows
        The oldest rows are dropped beyond this (memory stays bounded).
    """

    def __init__(self, step: str, max_rows: int = 2_000_000) -> None:
        self.step = pd.Timedelta(step)
        self.max_rows = max_rows
        self._rows: list[Row] = []
        self._lock = threading.Lock()
        self.ingested = 0

    def add(self, rows: list[Row]) -> int:
        """Append rows; returns how many."""
        with self._lock:
            self._rows.extend(rows)
            if len(self._rows) > self.max_rows:
                del self._rows[: len(self._rows) - self.max_rows]
            self.ingested += len(rows)
        return len(rows)

    def __len__(self) -> int:
        return len(self._rows)

    def table(self) -> TelemetryTable:
        """The tidy table (validated as the benchmark validates its inputs)."""
        with self._lock:
            frame = pd.DataFrame(self._rows)
        if frame.empty:
            raise DataError("no telemetry yet: send VES measurement events or PM files first")
        frame = frame.drop_duplicates([CELL, TIME], keep="last")
        return TelemetryTable.from_frame(frame, self.step, source="O1 telemetry")
