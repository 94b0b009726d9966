import pytest

pytest.importorskip("torch", reason="the model zoo needs torch: pip install 'ranml[benchmark]'")

from ranml.benchmark.models.conformance import check_model
from ranml.benchmark.models.stn import STN
from ranml.errors import ModelError


def test_stn_conforms_and_learns():
    result = check_model("stn", params={"neighbourhood": 3, "channels": 4, "hidden": 4}, epochs=4)
    assert result.best_val_loss < result.first_val_loss
    assert result.onnx_max_abs_diff is not None and result.onnx_max_abs_diff <= 1e-4


def test_stn_neighbourhood_must_be_odd():
    with pytest.raises(ModelError, match="neighbourhood=4 must be an odd integer"):
        STN.view({"neighbourhood": 4})
    assert STN.view({}) == "patch5"
