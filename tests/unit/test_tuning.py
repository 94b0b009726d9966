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
    assert again == params
