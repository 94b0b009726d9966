import pytest

pytest.importorskip("torch", reason="the model zoo needs torch: pip install 'ranml[benchmark]'")

from ranml.benchmark.models.conformance import check_model


def test_patchtst_conforms_and_learns():
    result = check_model("patchtst", params={"d_model": 16, "layers": 1, "patch": 8}, epochs=4)
    # A learnable toy problem: training must improve on the first epoch.
    assert result.best_val_loss < result.first_val_loss
    assert result.onnx_max_abs_diff is not None and result.onnx_max_abs_diff <= 1e-4


def test_patchtst_rejects_patch_longer_than_input():
    from ranml.benchmark.models import ModelShape, build_model
    from ranml.errors import ModelError

    model = build_model("patchtst", ModelShape(input_steps=8, horizon=2, n_features=1), patch=16)
    with pytest.raises(ModelError, match="patch=16 is longer than input_steps=8"):
        _ = model.net
