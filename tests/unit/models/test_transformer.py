import pytest

pytest.importorskip("torch", reason="the model zoo needs torch: pip install 'ranml[benchmark]'")

from ranml.benchmark.models.conformance import check_model


def test_transformer_conforms_and_learns():
    result = check_model("transformer", params={"d_model": 16, "layers": 1}, epochs=4)
    # A learnable toy problem: training must improve on the first epoch.
    assert result.best_val_loss < result.first_val_loss
    assert result.onnx_max_abs_diff is not None and result.onnx_max_abs_diff <= 1e-4


def test_transformer_rejects_heads_not_dividing_d_model():
    from ranml.benchmark.models import ModelShape, build_model
    from ranml.errors import ModelError

    model = build_model("transformer", ModelShape(input_steps=8, horizon=2, n_features=3), d_model=18, heads=4)
    with pytest.raises(ModelError, match="multiple of heads"):
        _ = model.net
