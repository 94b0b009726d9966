"""The benchmark on real-shaped data: last-N-steps splits, integer clocks, gap accounting, one score set
for the grid and series views, config-time model checks, stop reasons, plain progress lines.

Fixtures are small and shaped like the public datasets the issue names: hourly per-cell volumes with
missing hours (4G), an hourly beam KPI table with an integer time index (5G), and a square grid next to
its series. Expected values are worked out by hand from the fixture, not taken from ranml's output.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import requires_torch

from ranml.benchmark.windows import SplitSpec, WindowSpec, make_grid_windows, make_windows
from ranml.errors import ConfigError, DataError
from ranml.telemetry import TelemetryTable, generate

T = 400  # hours


def hourly_4g(drop: dict[str, list[int]] | None = None, cells: tuple[str, ...] = ("a", "b")) -> pd.DataFrame:
    """Hourly per-cell volumes: cell k at hour i is ``(k + 1) * (10 + i % 24)``; ``drop`` removes hours."""
    t = pd.date_range("2026-01-05", periods=T, freq="1h")
    drop = drop or {}
    rows = [{"cell_id": c, "timestamp": ts, "volume": float((k + 1) * (10 + i % 24))}
            for k, c in enumerate(cells) for i, ts in enumerate(t) if i not in drop.get(c, [])]
    return pd.DataFrame(rows)


def table_4g(drop: dict[str, list[int]] | None = None) -> TelemetryTable:
    return TelemetryTable.from_frame(hourly_4g(drop), "1h")


# -- 1. last-N-steps split, integer clock -----------------------------------------------------------

def test_test_steps_and_val_steps_take_the_last_hours():
    w = make_windows(table_4g(), WindowSpec(input_steps=24, horizon=4, target="volume", calendar=False,
                                            split=SplitSpec(test_steps=48, val_steps=24)))
    start = pd.Timestamp("2026-01-05")
    hour = lambda ts: ((pd.DatetimeIndex(ts) - start) // pd.Timedelta("1h")).to_numpy()  # noqa: E731
    test_first = hour(w.time["test"])
    # Targets of test windows lie in the last 48 hours (352..399): first targets 352..396, per cell.
    assert test_first.min() == T - 48 and test_first.max() == T - 4
    assert len(w.x["test"]) == 2 * (48 - 4 + 1)
    val_first = hour(w.time["val"])
    assert val_first.min() == T - 72 and val_first.max() + 3 < T - 48
    assert (hour(w.time["train"]) + 3).max() < T - 72


def test_val_steps_default_to_test_steps_and_errors_name_the_fields():
    w = make_windows(table_4g(), WindowSpec(input_steps=24, horizon=4, target="volume",
                                            split=SplitSpec(test_steps=30)))
    assert len(w.x["val"]) == 2 * (30 - 4 + 1)
    with pytest.raises(DataError, match=r"test_steps=200 and val_steps=190 leave 10 of 400 steps"):
        make_windows(table_4g(), WindowSpec(input_steps=24, horizon=4, target="volume",
                                            split=SplitSpec(test_steps=200, val_steps=190)))
    with pytest.raises(DataError, match="dates .* or steps .*not both"):
        make_windows(table_4g(), WindowSpec(input_steps=24, horizon=4, target="volume",
                                            split=SplitSpec(test_steps=30, train_end="2026-01-10",
                                                            val_end="2026-01-11")))


def test_unquoted_yaml_dates_are_split_dates(tmp_path):
    from ranml.benchmark import load_benchmark_config

    cfg = tmp_path / "dates.yaml"
    cfg.write_text("datasets:\n  - name: d\n    source: {kind: synth}\n    windows:\n"
                   "      split: {train_end: 2026-03-20, val_end: 2026-03-25 12:00:00}\n"
                   "models:\n  - name: persistence\n")
    split = load_benchmark_config(cfg).datasets[0].windows.split
    assert (split.train_end, split.val_end) == ("2026-03-20", "2026-03-25T12:00:00")


def beam_kpis(n: int = 300) -> pd.DataFrame:
    """5G beam KPIs with an integer hour index and no clock (as exported by a drive-test tool)."""
    return pd.DataFrame([{"beam": f"gnb1-beam{b}", "t": i, "rsrp_avg": -80.0 - b - (i % 24) / 4.0}
                         for b in range(3) for i in range(n)])


def test_integer_clock_is_a_step_index_and_round_trips(tmp_path):
    from ranml.telemetry import load_table

    path = tmp_path / "beams.csv"
    beam_kpis().to_csv(path, index=False)
    table = load_table(path, "1h", columns={"beam": "cell_id", "t": "timestamp"})
    assert table.index_clock and table.origin == pd.Timestamp("1970-01-01")
    assert table.frame["timestamp"].iloc[5] == pd.Timestamp("1970-01-01 05:00")
    np.testing.assert_array_equal(table.step_index(table.frame["timestamp"].iloc[:3]), [0, 1, 2])
    # Parquet keeps the integers and the origin.
    table.write_parquet(tmp_path / "beams.parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "beams.parquet").column("timestamp").type == "int64"
    again = TelemetryTable.read_parquet(tmp_path / "beams.parquet")
    assert again.index_clock and again.frame.equals(table.frame)
    # Split bounds as step numbers; labels are step numbers.
    w = make_windows(table, WindowSpec(input_steps=24, horizon=2, target="rsrp_avg",
                                       split=SplitSpec(train_end=200, val_end=250)))
    assert w.clock == "index" and w.time_label(w.time["test"].min()) == "step 250"
    with_origin = load_table(path, "1h", columns={"beam": "cell_id", "t": "timestamp"}, origin="2026-03-02")
    assert with_origin.frame["timestamp"].min() == pd.Timestamp("2026-03-02")


def test_integer_clock_errors_name_the_column_and_the_fix():
    frame = beam_kpis(10).rename(columns={"beam": "cell_id", "t": "timestamp"})
    unix = frame.assign(timestamp=frame["timestamp"] + 1_767_225_600)
    with pytest.raises(DataError, match="too large for a step index .* convert Unix times"):
        TelemetryTable.from_frame(unix, "1h")
    with pytest.raises(DataError, match="origin is given but column 'timestamp' holds times"):
        TelemetryTable.from_frame(hourly_4g(), "1h", origin="2026-01-01")
    with pytest.raises(DataError, match="split.train_end: 100 is a step number, but the data has a real clock"):
        make_windows(table_4g(), WindowSpec(input_steps=24, horizon=2, target="volume",
                                            split=SplitSpec(train_end=100, val_end=200)))


# -- 2. separate caps for validation and test ------------------------------------------------------

def test_max_val_windows_thins_validation_only_and_max_eval_windows_is_refused(tmp_path):
    full = make_windows(table_4g(), WindowSpec(input_steps=24, horizon=4, target="volume"))
    thin = make_windows(table_4g(), WindowSpec(input_steps=24, horizon=4, target="volume", max_val_windows=10))
    assert len(thin.x["val"]) == 10 < len(full.x["val"])
    np.testing.assert_array_equal(thin.x["test"], full.x["test"])
    capped = make_windows(table_4g(), WindowSpec(input_steps=24, horizon=4, target="volume", max_test_windows=20))
    assert len(capped.x["test"]) == 20 and len(np.unique(capped.time["test"])) == 10  # 10 origins × 2 cells

    from ranml.benchmark import load_benchmark_config

    cfg = tmp_path / "old.yaml"
    cfg.write_text("datasets:\n  - name: d\n    source: {kind: synth}\n    windows:\n      max_eval_windows: 100\n"
                   "models:\n  - name: persistence\n")
    with pytest.raises(ConfigError, match=r"old.yaml:5: datasets\[0\].windows.max_eval_windows: .*max_val_windows"):
        load_benchmark_config(cfg)


# -- 3. gap accounting and masked targets ----------------------------------------------------------

GAPS = {"a": [370, 371, 300, 301, 302, 303, 304, 305, 306]}  # a 2-hour gap in test, a 7-hour gap before it


def test_gap_report_counts_what_windowing_did():
    spec = WindowSpec(input_steps=24, horizon=4, target="volume", calendar=False, max_gap_steps=4,
                      split=SplitSpec(test_steps=60, val_steps=40))
    w = make_windows(table_4g(GAPS), spec)
    g = w.gaps
    assert g is not None
    assert (g.cells, g.cells_with_gaps, g.missing_points) == (2, 1, 9)
    assert (g.longest_gap_steps, g.longest_gap_cell) == (7, "a")
    assert g.longest_gap_start == str(pd.Timestamp("2026-01-05") + pd.Timedelta(hours=300))
    assert g.points_interpolated == 2
    # Windows span 28 hours; those touching hours 300..306 start at 273..306: 34 windows of cell a.
    assert g.windows_dropped == 34 == w.dropped_windows
    # Test origins are hours 340..396 (first targets); hours 370 and 371 are targets of windows whose first
    # target lies in 367..371: 4 windows each, 8 values left out, all other 2 × 57 × 4 - 8 scored.
    assert g.test_targets_masked == 8
    assert g.test_targets == 2 * 57 * 4 - 8
    assert w.score is not None and w.score.masked == 8


def test_interpolated_targets_can_be_kept_out_of_the_loss():
    spec = dict(input_steps=24, horizon=4, target="volume", calendar=False,
                split=SplitSpec(test_steps=60, val_steps=40))
    gaps = {"a": [100, 101]}  # a 2-hour gap in the training period: interpolated
    kept = make_windows(table_4g(gaps), WindowSpec(**spec))
    masked = make_windows(table_4g(gaps), WindowSpec(**spec, train_on_interpolated=False))
    # Hours 100 and 101 are targets of the windows whose first target is 97..101: 5 windows of cell a.
    assert len(kept.x["train"]) - len(masked.x["train"]) == 5
    assert kept.observed["train"].sum() < kept.observed["train"].size and masked.observed["train"].all()
    np.testing.assert_array_equal(masked.x["test"], kept.x["test"])  # the test set is not touched


@requires_torch
def test_interpolated_targets_are_never_scored():
    from ranml.benchmark.metrics import accuracy

    spec = WindowSpec(input_steps=24, horizon=4, target="volume", calendar=False,
                      split=SplitSpec(test_steps=60, val_steps=40))
    w = make_windows(table_4g(GAPS), spec)
    score = w.score
    assert score is not None
    # A forecast that is right wherever the data was observed and 50 off at the two interpolated hours.
    bent = score.actual.copy()
    bent[~score.observed] += 50.0
    out = accuracy(score.actual, bent, score.scale, observed=score.observed)
    assert out["mae"] == pytest.approx(0.0, abs=1e-9) and out["targets_masked"] == 8
    unmasked = accuracy(score.actual, bent, score.scale)
    assert unmasked["mae"] > 0.5


# -- 4. one score set for the grid and the series view ----------------------------------------------

@requires_torch
def test_grid_and_series_views_are_scored_on_the_same_targets():
    from ranml.benchmark.metrics import accuracy

    table = generate(cells=9, days=10, step="1h", seed=4)  # 3×3 squares, with the generator's missing hours
    spec = WindowSpec(input_steps=24, horizon=3, target="traffic", features=["prb_util"],
                      split=SplitSpec(test_steps=72, val_steps=48))
    series, grid = make_windows(table, spec), make_grid_windows(table, spec)
    assert series.score is not None and grid.score is not None
    assert series.score.fingerprint == grid.score.fingerprint
    np.testing.assert_array_equal(series.score.actual, grid.score.actual)
    np.testing.assert_array_equal(series.score.scale, grid.score.scale)
    # Persistence through either view: the last input value repeated. Same forecasts, same metrics.
    f_series = np.repeat(series.x["test"][:, -1:, 0], 3, axis=1)
    f_grid = np.repeat(grid.x["test"][:, -1:], 3, axis=1)
    a = accuracy(series.score.actual, series.scored_forecast(f_series), series.score.scale,
                 observed=series.score.observed)
    b = accuracy(grid.score.actual, grid.scored_forecast(f_grid), grid.score.scale, observed=grid.score.observed)
    for key in ("mae", "rmse", "mase", "r2"):
        assert a[key] == pytest.approx(b[key], rel=1e-5)
    # MASE is scaled by the seasonal-naive error of each cell's training data, not by 1.
    assert a["mase"] != pytest.approx(a["mae"], rel=0.05)
    # SSIM on the score rows reassembled into grids: the same for both views, below 1 for persistence.
    from ranml.benchmark.metrics import ssim

    sa, sb = (ssim(*d.score_grids(d.scored_forecast(f))[:2], observed=d.score_grids(d.scored_forecast(f))[2])
              for d, f in ((series, f_series), (grid, f_grid)))
    assert sa == pytest.approx(sb, rel=1e-5) and 0 < sa < 1


def test_patch_windows_are_the_series_windows_with_a_neighbourhood():
    from ranml.benchmark.windows import make_patch_windows

    table = generate(cells=9, days=10, step="1h", seed=4)  # squares 1..3, 101..103, 201..203
    spec = WindowSpec(input_steps=24, horizon=3, target="traffic", features=["prb_util"],
                      split=SplitSpec(test_steps=72, val_steps=48))
    series, patch = make_windows(table, spec), make_patch_windows(table, spec, 3)
    assert patch.kind == "patch" and patch.x["test"].shape[1:] == (24, 3, 3)
    assert patch.model_shape().patch == 3 and patch.score.fingerprint == series.score.fingerprint
    np.testing.assert_array_equal(patch.y["test"], series.y["test"])
    # The centre of every patch is the cell's own scaled target, the series view's channel 0.
    np.testing.assert_array_equal(patch.x["test"][:, :, 1, 1], series.x["test"][:, :, 0])
    # Square 1 (row 0, col 0): its right neighbour is square 2, its lower neighbour square 101; above and
    # left of it lies the grid's edge (zero padding).
    i = int(np.flatnonzero(patch.cell["test"] == patch.cells.index("1"))[0])
    t = patch.time["test"][i]
    j = int(np.flatnonzero((series.cell["test"] == series.cells.index("2")) & (series.time["test"] == t))[0])
    np.testing.assert_array_equal(patch.x["test"][i, :, 1, 2], series.x["test"][j, :, 0])
    assert (patch.x["test"][i, :, 0, :] == 0).all() and (patch.x["test"][i, :, :, 0] == 0).all()


def test_selection_never_ranks_different_target_sets_together():
    from ranml.benchmark.config import SelectionConfig
    from ranml.benchmark.selection import select

    base = {"status": "ok", "dataset": "d", "horizon": 4, "latency_p99_us": 10.0, "inference_energy_uj": 1.0,
            "peak_memory_mb": 1.0, "job_id": "x"}
    records = [{**base, "model": "persistence", "mase": 1.45, "scored_on": "aaa"},
               {**base, "model": "convlstm", "mase": 0.9, "scored_on": "bbb"}]
    chosen = select(records, SelectionConfig(loop_classes={"xapp": 1000.0}))
    assert sorted((c["scored_on"], c["model"]) for c in chosen) == [("aaa", "persistence"), ("bbb", "convlstm")]
    assert all("next is" not in c["reason"] for c in chosen)


# -- 5. model constraints checked when the config is planned ---------------------------------------

def write_config(tmp_path: Path, models: str, windows: str = "{input_steps: 12, horizon: 2}",
                 train: str = "{epochs: 2, patience: 2}") -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(f"""\
datasets:
  - name: cells
    source: {{kind: synth, cells: 2, days: 6, step: 1h, seed: 5}}
    windows: {windows}
models:
{models}
train: {train}
kpis: {{latency_calls: 100, warmup: 5, throughput_batch: 8}}
""")
    return path


@requires_torch
@pytest.mark.parametrize(("models", "message"), [
    ("  - name: persistence\n  - name: seasonal_naive\n",
     r"models\[1\] \(seasonal_naive\) on datasets\[0\] \('cells'\), horizon 2: .*input_steps=12 is shorter than one "
     r"season \(24 steps\); raise windows.input_steps to at least 24"),
    ("  - name: lstm\n    params: {hiden: 16}\n",
     r"models\[0\] \(lstm\) .*params \['hiden'\] are not parameters of this model "
     r"\(it reads: dropout, hidden, layers\)"),
    ("  - name: patchtst\n    params: {patch: 32}\n",
     r"models\[0\] \(patchtst\) on datasets\[0\] .*patch"),
])
def test_model_constraints_fail_at_plan_time_before_any_training(tmp_path, models, message):
    from ranml.benchmark import load_benchmark_config, run_benchmark

    cfg = load_benchmark_config(write_config(tmp_path, models))
    with pytest.raises(ConfigError, match=message):
        run_benchmark(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- 6, 3. stop reasons, gap accounting in run.json / leaderboard / report --------------------------

@requires_torch
def test_run_reports_gaps_targets_and_stop_reasons(tmp_path):
    from ranml.benchmark import load_benchmark_config, run_benchmark

    data = tmp_path / "4g.csv"
    hourly_4g(GAPS).rename(columns={"cell_id": "eNB_cell", "timestamp": "hour"}).to_csv(data, index=False)
    windows = "{input_steps: 24, horizon: 4, target: volume, split: {test_steps: 60, val_steps: 40}}"
    cfg_path = write_config(tmp_path, "  - name: persistence\n  - name: nlinear\n  - name: mlp\n"
                                      "    train: {max_seconds: 0.000001, epochs: 5, patience: 5}\n",
                            windows=windows)
    text = cfg_path.read_text().replace(
        "{kind: synth, cells: 2, days: 6, step: 1h, seed: 5}",
        f"{{kind: file, path: {data}, step: 1h, columns: {{eNB_cell: cell_id, hour: timestamp}}}}")
    cfg_path.write_text(text)
    result = run_benchmark(load_benchmark_config(cfg_path), tmp_path / "out")
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    [d] = run["data"]
    assert (d["dataset"], d["horizon"], d["windows_dropped"], d["points_interpolated"], d["longest_gap_steps"],
            d["longest_gap_cell"], d["test_targets_masked"]) == ("cells", 4, 34, 2, 7, "a", 8)
    by = {r["model"]: r for r in result.records}
    assert {r["status"] for r in by.values()} == {"ok"}
    assert len({r["scored_on"] for r in by.values()}) == 1 and by["nlinear"]["targets_masked"] == 8
    assert by["persistence"]["stopped_by"] == "not_trainable"
    assert by["nlinear"]["stopped_by"] in ("epochs", "early_stopping") and by["nlinear"]["epochs"] >= 1
    assert (by["mlp"]["stopped_by"], by["mlp"]["epochs"], by["mlp"]["best_epoch"]) == ("time_budget", 1, 1)
    csv = (tmp_path / "out" / "leaderboard.csv").read_text().splitlines()
    assert "stopped_by" in csv[0] and "windows_dropped" in csv[0]
    report = (tmp_path / "out" / "report.html").read_text()
    assert "Data: gaps and scored targets" in report and ">34<" in report
    assert "mlp stopped on the time budget" in report
    assert "nlinear stopped on the time budget" not in report


def _no_onnx_model() -> type:
    from ranml.benchmark.models import Capabilities
    from ranml.benchmark.models.nlinear import NLinear

    class NoOnnx(NLinear):
        name = "no_onnx"
        capabilities = Capabilities(uses_features=False, exportable=False)

    return NoOnnx


NoOnnx = _no_onnx_model() if __import__("importlib").util.find_spec("torch") else None


@requires_torch
def test_a_model_without_onnx_says_so_and_carries_its_serving_path(tmp_path):
    from ranml.benchmark import load_benchmark_config, run_benchmark

    cfg = write_config(tmp_path, "  - name: nlinear\n  - name: mine\n"
                                 "    ref: tests.unit.test_benchmark_real_data:NoOnnx\n")
    by = {r["model"]: r for r in run_benchmark(load_benchmark_config(cfg), tmp_path / "out").records}
    assert by["nlinear"]["serving"] == "onnx" and by["mine"]["serving"] == "torchscript"
    assert by["mine"]["latency_p99_us"] == by["mine"]["torch_latency_p99_us"]
    assert ">torchscript<" in (tmp_path / "out" / "report.html").read_text()


# -- 8. progress in a non-terminal ----------------------------------------------------------------

@requires_torch
def test_benchmark_cli_prints_plain_lines_when_not_a_terminal(tmp_path):
    from typer.testing import CliRunner

    from ranml.cli.app import app

    cfg = write_config(tmp_path, "  - name: persistence\n  - name: nlinear\n")
    result = CliRunner().invoke(app, ["benchmark", "run", str(cfg), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("[")]
    assert any(line.endswith(": 0/2") or ": 0/2" in line for line in lines), lines
    assert any(": 2/2" in line and ": ok" in line for line in lines), lines


def test_line_progress_prints_one_line_per_change():
    import io

    from rich.console import Console

    from ranml.cli.progress import LineProgress, make_progress

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False, width=200)
    progress = make_progress(console)
    assert isinstance(progress, LineProgress)
    with progress:
        task = progress.add_task("jobs", total=3)
        progress.advance(task)
        progress.update(task)  # nothing changed: no line
        progress.update(task, advance=1, last="lstm ok")
    lines = buf.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["jobs: 0/3", "jobs: 1/3", "jobs: 2/3  lstm ok"]
    assert "\r" not in buf.getvalue()


# -- 7. the allocator setting behind the system-time fix ---------------------------------------------

_TRAIN_SNIPPET = """
import resource, sys
import numpy as np
from ranml.benchmark.allocator import keep_freed_memory
from ranml.benchmark.models import ModelShape, TrainSettings, build_model

rng = np.random.default_rng(0)
x, y = rng.standard_normal((1024, 168, 6), dtype=np.float32), rng.standard_normal((1024, 24), dtype=np.float32)
model = build_model("transformer", ModelShape(168, 24, 6), d_model=32, layers=1)
with keep_freed_memory(sys.argv[1] == "keep") as applied:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model.fit(x, y, x[:256], y[:256], TrainSettings(epochs=1, threads=1))
    print(int(applied), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@requires_torch
def test_keep_freed_memory_stops_refaulting_training_memory():
    """The cause of the system time: every batch faults its large tensors in again, unless freed memory is kept.

    Each run is a fresh process, so no earlier allocator setting of the test session leaks in.
    """
    import subprocess
    import sys

    def faults(mode: str) -> tuple[bool, int]:
        out = subprocess.run([sys.executable, "-c", _TRAIN_SNIPPET, mode], capture_output=True, text=True,
                             check=True, timeout=300).stdout.split()
        return bool(int(out[0])), int(out[1])

    _, plain = faults("system")
    applied, kept = faults("keep")
    if not applied:
        pytest.skip("not glibc: the allocator setting does not apply")
    assert kept < plain / 4, (plain, kept)
