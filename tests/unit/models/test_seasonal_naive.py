import numpy as np
import pytest

pytest.importorskip("torch", reason="the model zoo needs torch: pip install 'ranml[benchmark]'")

from ranml.benchmark.models import ModelShape, build_model
from ranml.benchmark.models.conformance import check_model, toy_problem
from ranml.errors import ModelError


def test_seasonal_naive_conforms():
    result = check_model("seasonal_naive")
    _, data = toy_problem(spatial=False)
    # input 48 steps, season 24: step h is the value 24 steps before it
    expected = data["x_val"][:, 24:28, 0]
    np.testing.assert_array_equal(result.forecast, expected)


def test_seasonal_naive_needs_one_season_of_input():
    with pytest.raises(ModelError, match="shorter than one season"):
        build_model("seasonal_naive", ModelShape(input_steps=12, horizon=4, n_features=1, season_steps=24))
