import numpy as np
import pytest

pytest.importorskip("torch", reason="the model zoo needs torch: pip install 'ranml[benchmark]'")
pytest.importorskip("lightgbm", reason="the gbdt model needs lightgbm: pip install 'ranml[benchmark]'")

from ranml.benchmark.models.conformance import check_model, toy_problem


def test_gbdt_conforms_and_learns():
    result = check_model("gbdt", params={"n_estimators": 60, "num_leaves": 8, "lags": 24}, epochs=1)
    assert result.onnx_max_abs_diff is not None and result.onnx_max_abs_diff <= 1e-4


def test_the_tree_module_reproduces_lightgbm():
    """The matrix form of the trees gives LightGBM's own predictions (its C++ tree walk)."""
    from ranml.benchmark.models import TrainSettings, build_model

    shape, data = toy_problem(False)
    model = build_model("gbdt", shape, n_estimators=80, num_leaves=16, lags=24)
    model.fit(data["x_train"], data["y_train"], data["x_val"], data["y_val"], TrainSettings(seed=1))
    ours = model.predict(data["x_val"])
    features = model._features(data["x_val"])
    theirs = np.stack([b.predict(features, num_iteration=b.best_iteration) for b in model.boosters], axis=1)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)
    assert model.torch_module().n_trees == sum(b.best_iteration for b in model.boosters)


def test_the_trees_count_as_parameters():
    from ranml.benchmark.kpis import count_params
    from ranml.benchmark.models import TrainSettings, build_model

    shape, data = toy_problem(False)
    model = build_model("gbdt", shape, n_estimators=20, num_leaves=8, lags=24)
    model.fit(data["x_train"], data["y_train"], data["x_val"], data["y_val"], TrainSettings())
    module = model.torch_module()
    assert count_params(module) == module.thr.numel() + module.value.numel() > 0
