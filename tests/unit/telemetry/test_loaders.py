import pandas as pd
import pytest

from ranml.errors import DataError
from ranml.telemetry import load_milan, load_table


def test_csv_with_column_mapping(tmp_path):
    p = tmp_path / "kpi.csv"
    pd.DataFrame({"cell": ["x", "x", "y", "y"],
                  "ts": ["2026-01-01 00:00", "2026-01-01 00:15"] * 2,
                  "prb": [1.0, 2.0, 3.0, 4.0], "junk": [0, 0, 0, 0]}).to_csv(p, index=False)
    t = load_table(p, step="15min", columns={"cell": "cell_id", "ts": "timestamp", "prb": "prb_util"},
                   kpis=["prb_util"])
    assert t.kpis == ["prb_util"] and t.cells == ["x", "y"]


def test_mapping_naming_absent_column(tmp_path):
    p = tmp_path / "kpi.csv"
    pd.DataFrame({"a": [1]}).to_csv(p, index=False)
    with pytest.raises(DataError, match=r"columns \['cell'\] named in the mapping are not in the file"):
        load_table(p, step="15min", columns={"cell": "cell_id"})


def test_csv_needs_step(tmp_path):
    p = tmp_path / "kpi.csv"
    pd.DataFrame({"cell_id": ["a"], "timestamp": ["2026-01-01"], "v": [1.0]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="no step declared"):
        load_table(p)


def test_unknown_extension_and_missing_file(tmp_path):
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(DataError, match="unknown file type"):
        load_table(tmp_path / "x.xlsx", step="1h")
    with pytest.raises(DataError, match="file not found"):
        load_table(tmp_path / "nope.csv", step="1h")


def test_milan_raw_sums_country_codes_and_treats_empty_as_zero(tmp_path):
    t0 = 1383260400000  # 2013-11-01 00:00 CET in Unix ms
    lines = [
        f"1\t{t0}\t0\t0.5\t\t\t\t10.0",
        f"1\t{t0}\t39\t1.5\t2.0\t\t0.3\t20.0",
        f"1\t{t0 + 600000}\t39\t\t\t\t\t5.0",
        f"10000\t{t0}\t39\t1.0\t1.0\t1.0\t1.0\t1.0",
    ]
    raw = tmp_path / "sms-call-internet-mi-2013-11-01.txt"
    raw.write_text("\n".join(lines) + "\n")
    t = load_milan([raw])
    assert t.step == pd.Timedelta("10min")
    assert t.cells == ["1", "10000"]
    first = t.frame[(t.frame["cell_id"] == "1")].iloc[0]
    assert first["internet"] == 30.0 and first["sms_in"] == 2.0 and first["sms_out"] == 2.0
    assert first["call_in"] == 0.0 and first["call_out"] == pytest.approx(0.3)
    assert t.frame[(t.frame["cell_id"] == "1")].iloc[1]["internet"] == 5.0


def test_milan_bad_file(tmp_path):
    raw = tmp_path / "bad.txt"
    raw.write_text("\t1383260400000\t39\t1\t1\t1\t1\t1\n")
    with pytest.raises(DataError, match="bad.txt:1: square_id and time interval are required"):
        load_milan([raw])


def test_non_monotonic_timestamps_name_the_cell(tmp_path):
    p = tmp_path / "kpi.csv"
    pd.DataFrame({"cell_id": ["x", "x", "x"], "timestamp": ["2026-01-01 00:30", "2026-01-01 00:00", "2026-01-01 00:15"],
                  "v": [1.0, 2.0, 3.0]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="cell 'x' has non-monotonic timestamps.*sort: true"):
        load_table(p, step="15min")
    t = load_table(p, step="15min", sort=True)
    assert t.frame["v"].tolist() == [2.0, 3.0, 1.0]


def test_parquet_written_by_ranml_loads_back(tmp_path):
    from ranml.telemetry import generate

    t = generate(cells=2, days=1, seed=4)
    t.write_parquet(tmp_path / "t.parquet")
    back = load_table(tmp_path / "t.parquet")
    assert back.step == t.step and back.cells == t.cells
