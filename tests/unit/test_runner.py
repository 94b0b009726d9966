import json
import math
import shutil

import pytest

pytest.importorskip("torch", reason="the benchmark runner trains torch models: pip install 'ranml[benchmark]'")

from conftest import tiny_config
from ranml.benchmark import load_benchmark_config, run_benchmark
from ranml.benchmark.job import RECORD_FIELDS
from ranml.errors import DataError, UnknownModelError

BYO = '''
import numpy as np
from ranml.benchmark.models.base import Capabilities, ForecastModel, FitReport
from ranml.errors import ModelError


class Broken(ForecastModel):
    name = "broken"

    def fit(self, *a, **k):
        raise ModelError("this model always fails to train")

    def predict(self, x):
        raise ModelError("never trained")

    def torch_module(self):
        raise ModelError("never trained")
'''

ACCURACY = ("mae", "rmse", "smape", "wape", "mase", "r2")


def test_run_writes_every_file_with_every_field(tmp_path):
    models = "  - name: persistence\n  - name: nlinear\n  - name: convlstm\n    params: {hidden: 4}\n"
    cfg = load_benchmark_config(tiny_config(tmp_path, models))
    out = tmp_path / "out"
    res = run_benchmark(cfg, out)
    for name in ("leaderboard.json", "leaderboard.csv", "selection.json", "report.html", "run.json", "pareto.json"):
        assert (out / name).stat().st_size > 0, name
    board = json.loads((out / "leaderboard.json").read_text())
    assert [r["model"] for r in board] == ["persistence", "nlinear", "convlstm"]
    for r in board:
        assert r["status"] == "ok", r["error"]
        for key in RECORD_FIELDS:
            if key in ("error", "ssim"):
                continue
            assert r[key] is not None, (r["model"], key)
        assert r["energy_source"] in ("estimate", "rapl")
        assert r["latency_p50_us"] > 0 and r["params"] >= 0 and r["model_bytes"] > 0
        assert r["peak_memory_mb"] > 0 and r["throughput_per_s"] > 0
        job = out / "jobs" / r["job_id"]
        assert {"config.json", "metrics.json", "checkpoint.pt", "model.onnx", "forecast_sample.json"} <= {
            p.name for p in job.iterdir()}
    assert board[2]["ssim"] is not None and -1 <= board[2]["ssim"] <= 1
    assert board[1]["params"] > 0 and board[1]["train_seconds"] > 0
    sel = json.loads((out / "selection.json").read_text())
    assert {s["loop_class"] for s in sel} == {"dapp", "xapp", "rapp"}
    assert all(s["model"] and s["reason"] for s in sel)
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 3 and "Pareto front" in html
    csv_head = (out / "leaderboard.csv").read_text().splitlines()[0].split(",")
    assert csv_head == RECORD_FIELDS
    assert res.reused == 0


def test_failing_model_is_recorded_and_others_go_on(tmp_path, monkeypatch):
    (tmp_path / "byo_models.py").write_text(BYO)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = load_benchmark_config(tiny_config(
        tmp_path, "  - name: broken\n    ref: byo_models:Broken\n  - name: persistence\n"))
    res = run_benchmark(cfg, tmp_path / "out")
    by = {r["model"]: r for r in res.records}
    assert by["broken"]["status"] == "failed"
    assert "always fails to train" in by["broken"]["error"]
    assert by["persistence"]["status"] == "ok"
    job = tmp_path / "out" / "jobs" / by["broken"]["job_id"]
    assert "ModelError" in (job / "error.txt").read_text()


def test_resume_skips_finished_jobs_and_reruns_changed_ones(tmp_path):
    path = tiny_config(tmp_path)
    out = tmp_path / "out"
    first = run_benchmark(load_benchmark_config(path), out)
    again = run_benchmark(load_benchmark_config(path), out, resume=True)
    assert again.reused == 2
    assert [r["mae"] for r in again.records] == [r["mae"] for r in first.records]
    changed = path.read_text().replace("epochs: 2", "epochs: 3")
    path.write_text(changed)
    third = run_benchmark(load_benchmark_config(path), out, resume=True)
    assert third.reused == 1  # persistence has no training; nlinear's hash changed


def test_unknown_model_lists_valid_names(tmp_path):
    cfg = load_benchmark_config(tiny_config(tmp_path, "  - name: prophet\n"))
    with pytest.raises(UnknownModelError, match=r"models\[0\]\.name: unknown model 'prophet'; valid names: .*lstm"):
        run_benchmark(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_failed_run_leaves_existing_results_untouched(tmp_path):
    path = tiny_config(tmp_path)
    out = tmp_path / "out"
    run_benchmark(load_benchmark_config(path), out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = path.read_text().replace("days: 6", "days: 1")  # 24 steps < 24 input + 2 horizon
    path.write_text(bad)
    with pytest.raises(DataError, match="dataset 'tiny-city'.*shorter than one window"):
        run_benchmark(load_benchmark_config(path), out)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_all_nan_column_in_file_data_is_a_clear_error(tmp_path):
    import pandas as pd

    from ranml.telemetry import generate

    t = generate(cells=2, days=3, step="1h", seed=1).frame
    t["prb_util"] = float("nan")
    t.to_csv(tmp_path / "d.csv", index=False)
    cfg_text = tiny_config(tmp_path).read_text().replace(
        "source: {kind: synth, cells: 4, days: 6, step: 1h, seed: 5}",
        f"source: {{kind: file, path: {tmp_path / 'd.csv'}, step: 1h}}").replace("grid: true", "grid: false")
    (tmp_path / "f.yaml").write_text(cfg_text)
    with pytest.raises(DataError, match="'prb_util' is all NaN"):
        run_benchmark(load_benchmark_config(tmp_path / "f.yaml"), tmp_path / "out")
    del pd


def test_joblib_backend_gives_the_same_metrics(tmp_path):
    path = tiny_config(tmp_path, "  - name: nlinear\n  - name: dlinear\n")
    local = run_benchmark(load_benchmark_config(path), tmp_path / "a")
    pooled = run_benchmark(load_benchmark_config(path), tmp_path / "b", backend="joblib", workers=2)
    for x, y in zip(local.records, pooled.records, strict=True):
        for key in ACCURACY:
            assert math.isclose(x[key], y[key], rel_tol=0, abs_tol=1e-9), (x["model"], key)
    shutil.rmtree(tmp_path / "a")


def test_long_jobs_are_scheduled_first():
    from ranml.benchmark.config import DatasetConfig, EnergyConfig, KpiConfig, ModelConfig, SearchConfig, TrainConfig
    from ranml.benchmark.job import JobSpec
    from ranml.benchmark.runner import expected_cost

    ds = DatasetConfig.model_validate({"name": "d", "source": {"kind": "synth"}})

    def job(model, search=None):
        m = ModelConfig(name=model, search=search)
        return JobSpec("id", ds, 4, m, TrainConfig(epochs=10), KpiConfig(), EnergyConfig(), 0, "/tmp")

    order = sorted([job("persistence"), job("transformer"), job("lstm"), job("lstm", SearchConfig(trials=20))],
                   key=expected_cost, reverse=True)
    assert [(j.model.name, bool(j.model.search)) for j in order] == [
        ("lstm", True), ("transformer", False), ("lstm", False), ("persistence", False)]


def test_changed_data_file_invalidates_resume(tmp_path):
    import os

    from ranml.benchmark.config import DatasetConfig, EnergyConfig, KpiConfig, ModelConfig, TrainConfig
    from ranml.benchmark.job import JobSpec

    data = tmp_path / "d.csv"
    data.write_text("cell_id,timestamp,v\na,2026-01-01,1\n")
    ds = DatasetConfig.model_validate({"name": "d", "source": {"kind": "file", "path": str(data), "step": "1h"}})
    args = (ds, 4, ModelConfig(name="lstm"), TrainConfig(), KpiConfig(), EnergyConfig(), 0)
    before = JobSpec.make_id(*args)
    assert JobSpec.make_id(*args) == before
    data.write_text("cell_id,timestamp,v\na,2026-01-01,2\n")
    os.utime(data, ns=(1, 2))
    assert JobSpec.make_id(*args) != before
