import numpy as np
import pytest

pytest.importorskip("torch", reason="the model zoo needs torch: pip install 'ranml[benchmark]'")

from ranml.benchmark.models.conformance import check_model
from ranml.benchmark.models.timesnet import main_periods


def test_timesnet_conforms_and_learns():
    result = check_model("timesnet", params={"d_model": 8, "hidden": 8, "layers": 1}, epochs=4)
    assert result.best_val_loss < result.first_val_loss
    assert result.onnx_max_abs_diff is not None and result.onnx_max_abs_diff <= 1e-4
    # The toy problem is a daily sine (24 steps) in 48-step windows: the period found is the day.
    assert result.model.torch_module().periods.tolist()[0] == 24


def test_main_periods_finds_the_day_and_the_half_day():
    t = np.arange(96)
    x = (np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 12))[None, :, None].repeat(4, axis=0)
    assert main_periods(x, 0, 2) == [24, 12]
