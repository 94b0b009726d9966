"""Importers for real data shapes: each fixture is written the way the public data comes, and the expected
tidy rows and gap counts are worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ranml.errors import DataError
from ranml.telemetry import ImportOptions, TelemetryTable, apply_gap_policy, import_table, load_table


def value(table: TelemetryTable, cell: str, ts: str, kpi: str = "traffic") -> float:
    f = table.frame
    row = f[(f["cell_id"] == cell) & (f["timestamp"] == pd.Timestamp(ts))]
    assert len(row) == 1, (cell, ts)
    return float(row[kpi].iloc[0])


def test_wide_columns_with_a_time_column_and_a_missing_hour(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("time,4259,4260\n2013-11-01 00:00,1.5,2\n2013-11-01 01:00,2.5,3\n"
                    "2013-11-01 03:00,4.5,\n2013-11-01 04:00,5.5,6\n")
    table = import_table([path], "wide-columns", ImportOptions(step="1h", time_column="time"))
    assert table.cells == ["4259", "4260"] and table.kpis == ["traffic"]
    assert value(table, "4260", "2013-11-01 01:00") == 3.0
    assert len(table.frame) == 7  # 8 cells × hours minus the empty 4260 value at 03:00
    _, gaps = apply_gap_policy(table, "keep")
    by = {g.cell: g for g in gaps}
    assert (by["4259"].missing, by["4259"].longest) == (1, 1)  # 02:00
    assert (by["4260"].missing, by["4260"].longest, str(by["4260"].longest_start)) == (2, 2, "2013-11-01 02:00:00")


def test_wide_columns_from_a_start_or_as_a_step_index(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("a,b\n1,10\n2,20\n3,30\n")
    dated = import_table([path], "wide-columns", ImportOptions(step="15min", start="2026-03-02 06:00", kpi="prb"))
    assert value(dated, "b", "2026-03-02 06:30", "prb") == 30.0
    index = import_table([path], "wide-columns", ImportOptions(step="1h"))
    assert index.index_clock and list(index.step_index(index.frame["timestamp"].iloc[:3])) == [0, 1, 2]


def test_wide_rows_with_timestamp_headers(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("square,2013-11-01 00:00,2013-11-01 01:00,2013-11-01 02:00\n0042,1,2,3\n0043,4,,6\n")
    table = import_table([path], "wide-rows", ImportOptions(step="1h", kpi="internet"))
    assert table.cells == ["0042", "0043"]  # ids stay text: leading zeros kept
    assert value(table, "0043", "2013-11-01 02:00", "internet") == 6.0
    assert len(table.frame) == 5


def test_per_cell_files_with_missing_hours_and_each_gap_policy(tmp_path):
    hours = pd.date_range("2026-01-05", periods=24, freq="1h")
    for cell, drop in (("enb1-c1", {5, 6, 7, 12}), ("enb1-c2", set())):
        rows = [f"{t},{i * 2.0},{i % 3}" for i, t in enumerate(hours) if i not in drop]
        (tmp_path / f"{cell}.csv").write_text("hour,dl_mb,users\n" + "\n".join(rows) + "\n")
    files = sorted(tmp_path.glob("*.csv"))
    table = import_table(files, "per-cell", ImportOptions(step="1h", time_column="hour"))
    assert table.cells == ["enb1-c1", "enb1-c2"] and table.kpis == ["dl_mb", "users"]
    kept, gaps = apply_gap_policy(table, "keep")
    by = {g.cell: g for g in gaps}
    assert (by["enb1-c1"].missing, by["enb1-c1"].gaps, by["enb1-c1"].longest) == (4, 2, 3)
    assert str(by["enb1-c1"].longest_start) == "2026-01-05 05:00:00"
    assert (by["enb1-c2"].missing, by["enb1-c2"].gaps) == (0, 0)
    assert len(kept.frame) == 44
    reindexed, _ = apply_gap_policy(table, "reindex")
    assert len(reindexed.frame) == 48 and reindexed.frame["dl_mb"].isna().sum() == 4
    filled, report = apply_gap_policy(table, "fill", max_fill=2)
    assert report == gaps  # the report describes the data, before any fill
    c1 = filled.frame[filled.frame["cell_id"] == "enb1-c1"].set_index("timestamp")["dl_mb"]
    assert c1[pd.Timestamp("2026-01-05 12:00")] == pytest.approx(24.0)  # 1-hour gap: interpolated
    assert c1.loc["2026-01-05 05:00":"2026-01-05 07:00"].isna().all()  # 3-hour gap > max_fill: stays NaN


def test_beam_table_with_an_integer_index_and_a_composite_cell_id(tmp_path):
    path = tmp_path / "beams.csv"
    rows = [f"{t},gnb7,{b},{-80 - b - t % 4}" for t in range(12) for b in range(2) if not (b == 1 and t == 4)]
    path.write_text("t,gnb,beam,rsrp\n" + "\n".join(rows) + "\n")
    table = import_table([path], "tidy", ImportOptions(step="10min", cell_columns=("gnb", "beam"),
                                                       columns=(("t", "timestamp"),)))
    assert table.cells == ["gnb7-0", "gnb7-1"] and table.kpis == ["rsrp"] and table.index_clock
    _, gaps = apply_gap_policy(table, "keep")
    assert {g.cell: g.missing for g in gaps} == {"gnb7-0": 0, "gnb7-1": 1}
    table.write_parquet(tmp_path / "beams.parquet")
    assert load_table(tmp_path / "beams.parquet").index_clock


def test_milan_grid_aggregate_sums_country_codes(tmp_path):
    path = tmp_path / "sms-call-internet-mi-2013-11-01.csv"
    path.write_text("datetime,CellID,countrycode,smsin,smsout,callin,callout,internet\n"
                    "2013-11-01 00:00:00,1,0,0.27,,,,\n"
                    "2013-11-01 00:00:00,1,39,1.5,0.5,0.6,0.3,57.8\n"
                    "2013-11-01 01:00:00,1,39,1.1,0.4,0.2,0.1,44.0\n"
                    "2013-11-01 00:00:00,2,39,0.8,0.2,0.1,0.1,30.2\n")
    table = import_table([path], "milan-grid", ImportOptions(step="1h"))
    assert table.kpis == ["sms_in", "sms_out", "call_in", "call_out", "internet"]
    assert value(table, "1", "2013-11-01 00:00", "sms_in") == pytest.approx(1.77)
    assert value(table, "1", "2013-11-01 00:00", "internet") == pytest.approx(57.8)


def test_grid_array_on_square_ids(tmp_path):
    array = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    array[2, 1, 0] = np.nan
    np.save(tmp_path / "grid.npy", array)
    table = import_table([tmp_path / "grid.npy"], "grid-array",
                         ImportOptions(step="10min", start="2013-11-01", kpi="internet"))
    assert table.cells == sorted(["1", "2", "3", "101", "102", "103"])
    assert value(table, "102", "2013-11-01 00:30", "internet") == array[3, 1, 1]
    assert len(table.frame) == 29


def test_wrong_files_name_the_row_and_column(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,a,b\n2026-01-01 00:00,1,2\n2026-01-01 01:00,3,n/a?\n")
    with pytest.raises(DataError, match=r"bad.csv: row 3, column 'b': 'n/a\?' is not a number"):
        import_table([bad], "wide-columns", ImportOptions(step="1h", time_column="time"))
    with pytest.raises(DataError, match=r"time column 'ts' is not in the file \(have \['time', 'a', 'b'\]\)"):
        import_table([bad], "wide-columns", ImportOptions(step="1h", time_column="ts"))
    with pytest.raises(DataError, match="unknown format 'excel'; use one of tidy, wide-columns"):
        import_table([bad], "excel", ImportOptions(step="1h"))
    with pytest.raises(DataError, match="format wide-rows: the step is required"):
        import_table([bad], "wide-rows", ImportOptions())
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(DataError, match=r"expected a \(T, H, W\) array, got shape \(4, 4\)"):
        import_table([tmp_path / "flat.npy"], "grid-array", ImportOptions(step="1h"))
    ok = tmp_path / "ok.csv"
    ok.write_text("a\n1\n2\n")
    with pytest.raises(DataError, match="gap policy 'drop': use keep, reindex or fill"):
        apply_gap_policy(import_table([ok], "wide-columns", ImportOptions(step="1h")), "drop")  # type: ignore[arg-type]


def test_cli_import_writes_the_table_and_the_gap_report(tmp_path):
    from typer.testing import CliRunner

    from ranml.cli.app import app

    path = tmp_path / "wide.csv"
    path.write_text("a,b\n1,10\n2,\n,\n4,40\n")
    out = tmp_path / "t.parquet"
    result = CliRunner().invoke(app, ["data", "import", str(path), "--format", "wide-columns", "--step", "1h",
                                      "--start", "2026-01-05", "--gaps", "reindex", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "t.gaps.json").read_text())
    assert (report["cells_with_gaps"], report["missing_steps"], report["longest_gap_steps"]) == (2, 3, 2)
    assert {c["cell"]: c["longest"] for c in report["per_cell"]} == {"a": 1, "b": 2}
    table = load_table(out)
    assert len(table.frame) == 8 and table.frame["traffic"].isna().sum() == 3
    bad = CliRunner().invoke(app, ["data", "import", str(path), "--format", "tidy", "--step", "1h",
                                   "--column", "nope", "--out", str(out)])
    assert bad.exit_code != 0 and "--column 'nope': use FILE_COLUMN=NAME" in bad.output


def test_grid_from_coordinates_rasterises_cells_onto_squares(tmp_path):
    from ranml.telemetry import grid_from_coordinates

    hours = pd.date_range("2026-01-05", periods=3, freq="1h")
    frame = pd.DataFrame([{"cell_id": c, "timestamp": t, "dl": float(k + 1), "prb": 10.0 * (k + 1)}
                          for k, c in enumerate("ABCD") for t in hours])
    table = TelemetryTable.from_frame(frame, "1h")
    # A and B are 11 m apart; C lies 780 m east of A; D 560 m south (at 45.46° N, 0.01° lon ≈ 780 m).
    coords = pd.DataFrame({"cell_id": list("ABCD"), "lat": [45.4600, 45.4601, 45.4600, 45.4550],
                           "lon": [9.1800, 9.1801, 9.1900, 9.1800]})
    gridded, mapping = grid_from_coordinates(table, coords, 500.0, {"prb": "mean"})
    assert dict(zip(mapping["cell_id"], mapping["square_id"], strict=True)) == {"A": "1", "B": "1", "C": "2",
                                                                               "D": "101"}
    assert gridded.cells == ["1", "101", "2"]
    assert value(gridded, "1", "2026-01-05 01:00", "dl") == 3.0  # A + B volumes add up
    assert value(gridded, "1", "2026-01-05 01:00", "prb") == 15.0  # utilisations average
    with pytest.raises(DataError, match=r"cells \['D'\] of the table have no coordinates"):
        grid_from_coordinates(table, coords.iloc[:3], 500.0)
    with pytest.raises(DataError, match="exceed the 100x100 grid; use larger squares"):
        grid_from_coordinates(table, coords, 5.0)


def test_cli_grid_writes_square_ids_and_the_mapping(tmp_path):
    from typer.testing import CliRunner

    from ranml.cli.app import app

    table = tmp_path / "cells.csv"
    table.write_text("cell_id,timestamp,dl\nA,2026-01-05 00:00,1\nB,2026-01-05 00:00,2\n")
    coords = tmp_path / "coords.csv"
    coords.write_text("cell_id,x,y\nA,0,0\nB,1200,0\n")
    out = tmp_path / "grid.parquet"
    result = CliRunner().invoke(app, ["data", "grid", str(table), "--coords", str(coords), "--cell-size", "500",
                                      "--step", "1h", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert load_table(out).cells == ["1", "3"]  # 1200 m east: column 2
    assert (tmp_path / "grid.squares.csv").read_text().splitlines()[0] == "cell_id,row,col,square_id"
