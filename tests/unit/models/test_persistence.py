import numpy as np
import pytest

pytest.importorskip("torch", reason="the model zoo needs torch: pip install 'ranml[benchmark]'")

from ranml.benchmark.models.conformance import check_model, toy_problem


def test_persistence_conforms():
    result = check_model("persistence")
    _, data = toy_problem(spatial=False)
    last = data["x_val"][:, -1, 0]
    np.testing.assert_array_equal(result.forecast, np.repeat(last[:, None], 4, axis=1))
