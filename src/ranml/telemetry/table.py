"""The interchange format: a tidy telemetry table with a declared step.

One row per (cell, timestamp); the remaining columns are KPIs (floats). The step is declared, not
guessed, so that gaps are visible: a missing report is a missing row (or a NaN), never a silent
shift of the time axis.

Data without a real clock (a beam KPI export with an integer time index, say) gives integer
``timestamp`` values: step ``n`` is read as ``origin + n·step`` (origin 1970-01-01 00:00 unless
declared), and the table remembers that its clock is an index (``attrs["clock"] == "index"``), so
reports show step numbers and Parquet files keep the integers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ranml.errors import DataError

__all__ = ["CELL", "INDEX_ORIGIN", "TIME", "TelemetryTable"]

CELL = "cell_id"
TIME = "timestamp"
INDEX_ORIGIN = pd.Timestamp("1970-01-01")
"""Where step 0 of an integer time index lies unless the data declares an origin (a Thursday, 00:00)."""

log = logging.getLogger("ranml.telemetry")


@dataclass(frozen=True)
class TelemetryTable:
    """A validated tidy table: ``cell_id``, ``timestamp`` and KPI columns, with a fixed step.

    Parameters
    ----------
    frame
        Columns ``cell_id`` (str), ``timestamp`` (tz-naive UTC datetime64) and numeric KPI columns.
    step
        The reporting period (e.g. ``pd.Timedelta("15min")``).

    Use :meth:`from_frame` to build one from untrusted data: it validates and names the problem.
    """

    frame: pd.DataFrame
    step: pd.Timedelta
    attrs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        step: str | pd.Timedelta,
        kpis: Sequence[str] | None = None,
        source: str = "<table>",
        require_sorted: bool = False,
        origin: str | pd.Timestamp | None = None,
    ) -> TelemetryTable:
        """Validate ``frame`` and return a table sorted by cell and time.

        With ``require_sorted`` a cell whose timestamps go backwards in the given row order is an
        error (a clock problem in exported telemetry), not something to sort away silently.
        Integer ``timestamp`` values are a step index: step ``n`` is ``origin + n·step``
        (``origin`` defaults to :data:`INDEX_ORIGIN`).

        Raises
        ------
        DataError
            Missing columns, non-numeric or all-NaN KPI columns, duplicate rows, timestamps that
            are not on the step grid. The message names the cell/column and the fix.
        """
        try:
            step_td = pd.Timedelta(step)
        except (ValueError, TypeError):
            raise DataError(f"{source}: step {step!r} is not a duration; use e.g. '15min'") from None
        if step_td <= pd.Timedelta(0):
            raise DataError(f"{source}: step must be positive, got {step!r}")
        for col in (CELL, TIME):
            if col not in frame.columns:
                raise DataError(
                    f"{source}: column {col!r} is missing (have {list(frame.columns)}); "
                    "map your columns with a `columns:` mapping in the data config"
                )
        kpi_cols = list(kpis) if kpis is not None else [c for c in frame.columns if c not in (CELL, TIME)]
        if not kpi_cols:
            raise DataError(f"{source}: no KPI columns besides {CELL!r} and {TIME!r}")
        missing = [c for c in kpi_cols if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: KPI columns {missing} are missing (have {list(frame.columns)})")
        df = frame[[CELL, TIME, *kpi_cols]].copy()
        df[CELL] = df[CELL].astype(str)
        attrs = {"source": source}
        if pd.api.types.is_integer_dtype(df[TIME]):
            zero = _index_origin(origin, source)
            df[TIME] = _index_to_time(df[TIME], zero, step_td, source)
            attrs.update(clock="index", origin=zero.isoformat())
        elif origin is not None:
            raise DataError(f"{source}: an origin is given but column {TIME!r} holds times, not an integer "
                            "step index; drop the origin")
        else:
            df[TIME] = _to_utc_naive(df[TIME], source)
        for col in kpi_cols:
            if not pd.api.types.is_numeric_dtype(df[col]):
                converted = pd.to_numeric(df[col], errors="coerce")
                bad = df[col][converted.isna() & df[col].notna()]
                if len(bad):
                    raise DataError(
                        f"{source}: column {col!r} has non-numeric values (first: {bad.iloc[0]!r}); "
                        "fix or drop those rows"
                    )
                df[col] = converted
            df[col] = df[col].astype("float64")
            if df[col].isna().all():
                raise DataError(
                    f"{source}: column {col!r} is all NaN; drop it from the KPI list or fix the loader mapping"
                )
        if require_sorted:
            steps = df.groupby(CELL, sort=False)[TIME].diff()
            backwards = (steps < pd.Timedelta(0)).to_numpy()
            if backwards.any():
                row = int(np.argmax(backwards))
                raise DataError(
                    f"{source}: cell {df[CELL].iloc[row]!r} has non-monotonic timestamps "
                    f"({df[TIME].iloc[row]} after a later one, row {row + 1}); sort the data by cell and "
                    "time, or set `sort: true` in the source config if the order does not matter"
                )
        dup = df.duplicated([CELL, TIME], keep=False)
        if dup.any():
            first = df[dup].iloc[0]
            raise DataError(
                f"{source}: cell {first[CELL]!r} has {int(dup.sum())} duplicate rows "
                f"(first at {first[TIME]}); deduplicate or aggregate them before loading"
            )
        offgrid = (df[TIME] - df[TIME].min()) % step_td != pd.Timedelta(0)
        if offgrid.any():
            first = df[offgrid].iloc[0]
            raise DataError(
                f"{source}: cell {first[CELL]!r} has a timestamp {first[TIME]} off the {step_td} grid; "
                "resample the data to the declared step or declare the right step"
            )
        df = df.sort_values([CELL, TIME], kind="stable").reset_index(drop=True)
        return cls(frame=df, step=step_td, attrs=attrs)

    @property
    def index_clock(self) -> bool:
        """Whether the time axis is an integer step index (no real clock)."""
        return self.attrs.get("clock") == "index"

    @property
    def origin(self) -> pd.Timestamp:
        """The time of step 0 of an integer clock (:data:`INDEX_ORIGIN` for tables with a real clock)."""
        return pd.Timestamp(self.attrs.get("origin", INDEX_ORIGIN))

    def step_index(self, times: pd.DatetimeIndex | pd.Series) -> np.ndarray:
        """Step numbers of ``times`` counted from :attr:`origin`."""
        delta = pd.to_datetime(np.asarray(times)) - self.origin
        return np.asarray(delta // self.step, dtype=np.int64)

    @property
    def kpis(self) -> list[str]:
        """The KPI column names."""
        return [c for c in self.frame.columns if c not in (CELL, TIME)]

    @property
    def cells(self) -> list[str]:
        """Cell ids in sorted order."""
        return sorted(self.frame[CELL].unique().tolist())

    def check_monotonic(self) -> None:
        """Raise if any cell's timestamps go backwards in the stored row order."""
        backwards = self.frame.groupby(CELL, sort=False)[TIME].diff() <= pd.Timedelta(0)
        if backwards.any():
            cell = self.frame[CELL].iloc[int(np.argmax(backwards.to_numpy()))]
            raise DataError(
                f"cell {cell!r}: timestamps are not increasing; sort by time and drop duplicates"
            )

    def to_matrix(self, kpi: str) -> tuple[pd.DatetimeIndex, list[str], np.ndarray]:
        """Return ``(time index, cells, values[time, cell])`` on the full step grid (gaps = NaN)."""
        if kpi not in self.frame.columns:
            raise DataError(f"KPI {kpi!r} is not in the table (have {self.kpis})")
        wide = self.frame.pivot(index=TIME, columns=CELL, values=kpi)
        full = pd.date_range(wide.index.min(), wide.index.max(), freq=self.step)
        wide = wide.reindex(full)
        return full, [str(c) for c in wide.columns], wide.to_numpy(dtype=np.float64)

    def cell_series(self, cell: str, kpi: str) -> pd.Series:
        """One cell's KPI on the full step grid (gaps = NaN)."""
        sub = self.frame[self.frame[CELL] == cell]
        if sub.empty:
            raise DataError(f"cell {cell!r} is not in the table")
        s = sub.set_index(TIME)[kpi]
        full = pd.date_range(s.index.min(), s.index.max(), freq=self.step)
        return s.reindex(full)

    def write_parquet(self, path: str | Path) -> None:
        """Write the table to Parquet, with the step in the file metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = self.frame
        if self.index_clock:  # keep the integers the data came with
            frame = frame.assign(**{TIME: self.step_index(frame[TIME])})
        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"ranml.step"] = str(self.step).encode()
        if self.index_clock:
            meta[b"ranml.origin"] = self.origin.isoformat().encode()
        pq.write_table(table.replace_schema_metadata(meta), str(path))

    @classmethod
    def read_parquet(cls, path: str | Path, step: str | None = None) -> TelemetryTable:
        """Read a table written by :meth:`write_parquet` (or any tidy Parquet with ``step`` given)."""
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(str(path))
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read Parquet: {exc}") from None
        meta = table.schema.metadata or {}
        declared = meta.get(b"ranml.step")
        if step is None and declared is None:
            raise DataError(f"{path}: no step in the file metadata; pass the step explicitly")
        origin = meta.get(b"ranml.origin")
        return cls.from_frame(table.to_pandas(), step or declared.decode(), source=str(path),  # type: ignore[union-attr]
                              origin=origin.decode() if origin else None)


def _index_origin(origin: str | pd.Timestamp | None, source: str) -> pd.Timestamp:
    if origin is None:
        return INDEX_ORIGIN
    try:
        zero = pd.Timestamp(origin)
    except (ValueError, TypeError):
        raise DataError(f"{source}: origin {origin!r} is not a timestamp; use e.g. '2026-03-02 00:00'") from None
    if zero.tzinfo is not None:
        zero = zero.tz_convert("UTC").tz_localize(None)
    return zero


def _index_to_time(values: pd.Series, origin: pd.Timestamp, step: pd.Timedelta, source: str) -> pd.Series:
    """Step numbers → timestamps ``origin + n·step``; Unix times or other huge integers are refused."""
    try:
        return (origin + values.astype("int64") * step).astype("datetime64[ns]")
    except (OverflowError, pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta):
        raise DataError(
            f"{source}: column {TIME!r} holds integers that are too large for a step index (largest "
            f"{int(values.max())}, step {step}); integers are read as step numbers, so convert Unix times "
            "to datetimes first"
        ) from None


def _to_utc_naive(values: pd.Series, source: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        ts = values
    else:
        try:
            ts = pd.to_datetime(values, utc=True)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{source}: column {TIME!r} cannot be parsed as time: {exc}") from None
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    if ts.isna().any():
        raise DataError(f"{source}: column {TIME!r} has empty values; drop those rows")
    return ts.astype("datetime64[ns]")
