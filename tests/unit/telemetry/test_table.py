import numpy as np
import pandas as pd
import pytest

from ranml.errors import DataError
from ranml.telemetry import CELL, TIME, TelemetryTable


def frame(n=8, cells=("a", "b"), step="15min"):
    t = pd.date_range("2026-01-01", periods=n, freq=step)
    rows = [{CELL: c, TIME: ts, "load": float(i)} for c in cells for i, ts in enumerate(t)]
    return pd.DataFrame(rows)


def test_valid_table_sorted_with_kpis():
    df = frame().sample(frac=1.0, random_state=0)
    t = TelemetryTable.from_frame(df, "15min")
    assert t.kpis == ["load"] and t.cells == ["a", "b"]
    assert t.frame.groupby(CELL)[TIME].apply(lambda s: s.is_monotonic_increasing).all()
    t.check_monotonic()


def test_missing_column_names_fix():
    with pytest.raises(DataError, match="'cell_id' is missing.*columns:"):
        TelemetryTable.from_frame(frame().drop(columns=[CELL]), "15min")


def test_duplicates_name_the_cell():
    df = pd.concat([frame(), frame().iloc[[3]]])
    with pytest.raises(DataError, match="cell 'a' has 2 duplicate rows.*deduplicate"):
        TelemetryTable.from_frame(df, "15min")


def test_all_nan_column_is_rejected():
    df = frame()
    df["empty"] = np.nan
    with pytest.raises(DataError, match="'empty' is all NaN"):
        TelemetryTable.from_frame(df, "15min")


def test_non_numeric_value_is_named():
    df = frame()
    df["load"] = df["load"].astype(object)
    df.loc[2, "load"] = "n/a"
    with pytest.raises(DataError, match="non-numeric values \\(first: 'n/a'\\)"):
        TelemetryTable.from_frame(df, "15min")


def test_off_grid_timestamp_is_rejected():
    df = frame()
    df.loc[1, TIME] = df.loc[1, TIME] + pd.Timedelta("1min")
    with pytest.raises(DataError, match="off the 0 days 00:15:00 grid"):
        TelemetryTable.from_frame(df, "15min")


def test_bad_step():
    with pytest.raises(DataError, match="not a duration"):
        TelemetryTable.from_frame(frame(), "soon")


def test_non_monotonic_rows_detected():
    t = TelemetryTable.from_frame(frame(), "15min")
    shuffled = TelemetryTable(t.frame.iloc[::-1].reset_index(drop=True), t.step)
    with pytest.raises(DataError, match="not increasing"):
        shuffled.check_monotonic()


def test_to_matrix_fills_gaps_with_nan():
    df = frame().drop(index=[2])
    times, cells, m = TelemetryTable.from_frame(df, "15min").to_matrix("load")
    assert len(times) == 8 and cells == ["a", "b"]
    assert np.isnan(m[2, 0]) and m[2, 1] == 2.0


def test_parquet_roundtrip_keeps_step(tmp_path):
    t = TelemetryTable.from_frame(frame(), "15min")
    t.write_parquet(tmp_path / "t.parquet")
    back = TelemetryTable.read_parquet(tmp_path / "t.parquet")
    assert back.step == pd.Timedelta("15min")
    pd.testing.assert_frame_equal(back.frame, t.frame)


def test_timezone_aware_timestamps_become_utc():
    df = frame()
    df[TIME] = df[TIME].dt.tz_localize("Europe/Rome")
    t = TelemetryTable.from_frame(df, "15min")
    assert t.frame[TIME].iloc[0] == pd.Timestamp("2025-12-31 23:00")
