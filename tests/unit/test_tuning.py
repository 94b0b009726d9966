import numpy as np
import pytest

pytest.importorskip("optuna", reason="searches need optuna: pip install 'ranml[benchmark]'")
pytest.importorskip("torch", reason="the model zoo needs torch")

import optuna

from ranml.benchmark.config import ModelConfig, SearchConfig, TrainConfig
from ranml.benchmark.models import resolve_model
from ranml.benchmark.models.conformance import toy_problem
from ranml.benchmark.tuning import fit_model, suggest
from ranml.benchmark.windows import Scaler, WindowedData
from ranml.errors import ConfigError


def test_suggest_forms():
    trial = optuna.trial.FixedTrial({"a": 3, "b": 0.5, "c": "x", "d": 0.01})
    assert suggest(trial, "a", [1, 5]) == 3
    assert suggest(trial, "b", [0.1, 1.0]) == 0.5
    assert suggest(trial, "c", {"choices": ["x", "y"]}) == "x"
    assert suggest(trial, "d", {"low": 1e-3, "high": 1e-1, "log": True}) == 0.01
    with pytest.raises(ConfigError, match="search.space.e"):
        suggest(trial, "e", "big")


def _data():
    shape, d = toy_problem(False)
    return shape, WindowedData(
        x={"train": d["x_train"], "val": d["x_val"], "test": d["x_val"]},
        y={"train": d["y_train"], "val": d["y_val"], "test": d["y_val"]},
        cell={}, time={}, scaler=Scaler(np.zeros((1, 1)), np.ones((1, 1)), "none"), cells=["c"],
        feature_names=[], target_index=0, step=None, season_steps=24, mase_scale=np.ones(1))  # type: ignore[arg-type]


def test_search_returns_the_best_trial_and_its_params():
    shape, data = _data()
    cfg = ModelConfig(name="mlp", search=SearchConfig(trials=3, space={"hidden": [4, 16], "lr": [1e-3, 1e-2]}))
    model, report, params = fit_model(resolve_model("mlp"), shape, cfg, TrainConfig(epochs=3, batch_size=32), data, 0)
    assert model.fitted and params["search_trials"] == 3
    assert 4 <= params["hidden"] <= 16 and 1e-3 <= params["lr"] <= 1e-2
    assert np.isfinite(report.best_val_loss)
    # Same seed → same search result.
    _, _, again = fit_model(resolve_model("mlp"), shape, cfg, TrainConfig(epochs=3, batch_size=32), data, 0)
    strip = lambda p: {**p, "tune": {k: v for k, v in p["tune"].items() if k != "seconds"}}  # noqa: E731
    assert strip(again) == strip(params)


def test_tune_block_budgets_and_the_old_search_name(tmp_path):
    from ranml.benchmark import load_benchmark_config
    from ranml.benchmark.config import TuneConfig

    base = "datasets:\n  - name: d\n    source: {kind: synth}\nmodels:\n  - name: mlp\n"
    (tmp_path / "a.yaml").write_text(base + "    tune: {trials: null, seconds: 30, space: {hidden: [4, 16]}}\n")
    tune = load_benchmark_config(tmp_path / "a.yaml").models[0].tune
    assert tune == TuneConfig(trials=None, seconds=30, space={"hidden": [4, 16]})
    (tmp_path / "b.yaml").write_text(base + "    search: {trials: 4, timeout_s: 9}\n")
    old = load_benchmark_config(tmp_path / "b.yaml").models[0]
    assert old.tune == TuneConfig(trials=4, seconds=9) and old.search is old.tune
    (tmp_path / "c.yaml").write_text(base + "    tune: {trials: null}\n")
    with pytest.raises(ConfigError, match=r"c.yaml:6: models\[0\].tune: .*give a budget: trials, seconds, or both"):
        load_benchmark_config(tmp_path / "c.yaml")


def test_shortened_trials_retrain_the_best_parameters_with_the_full_training():
    shape, data = _data()
    cfg = ModelConfig(name="mlp", tune=SearchConfig(trials=3, trial_epochs=1, pruner="none",
                                                    space={"hidden": [4, 16]}))
    _, report, params = fit_model(resolve_model("mlp"), shape, cfg, TrainConfig(epochs=4, patience=4,
                                                                                batch_size=32), data, 0)
    assert params["tune"]["retrained"] is True and params["tune"]["trials"] == 3
    assert report.epochs == 4  # the retrained model, not a 1-epoch trial
    assert set(params) == {"hidden", "search_trials", "tune"}


@pytest.mark.parametrize("backend", ["local", "joblib"])
def test_tuning_runs_as_a_benchmark_job_on_each_backend(tmp_path, backend):
    from tests.conftest import tiny_config

    from ranml.benchmark import load_benchmark_config, run_benchmark

    cfg = load_benchmark_config(tiny_config(tmp_path, "  - name: nlinear\n    tune: {trials: 2, space: "
                                                      "{lr: {low: 0.001, high: 0.01, log: true}}}\n"))
    [rec] = run_benchmark(cfg, tmp_path / "out", backend=backend, workers=1).records
    assert rec["status"] == "ok", rec["error"]
    assert rec["hparams"]["tune"]["trials"] == 2 and 0.001 <= rec["hparams"]["lr"] <= 0.01
