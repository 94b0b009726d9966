import pytest

pytest.importorskip("torch", reason="the model zoo needs torch: pip install 'ranml[benchmark]'")

from ranml.benchmark.models.conformance import check_model

PARAMS = {"hidden": 4, "layers": 2}


def test_predrnnpp_conforms_and_learns():
    result = check_model("predrnnpp", params=PARAMS, epochs=4)
    # A learnable toy problem: training must improve on the first epoch.
    assert result.best_val_loss < result.first_val_loss
    assert result.onnx_max_abs_diff is not None and result.onnx_max_abs_diff <= 1e-4
