import numpy as np
import pytest

from ranml.benchmark.metrics import accuracy, mae, mase, per_step_mae, r2, rmse, smape, ssim, wape

A = np.array([[1.0, 2.0], [3.0, 4.0]])
F = np.array([[2.0, 2.0], [3.0, 2.0]])


def test_point_metrics_by_hand():
    assert mae(A, F) == pytest.approx(0.75)
    assert rmse(A, F) == pytest.approx(np.sqrt(5 / 4))
    assert wape(A, F) == pytest.approx(100 * 3 / 10)
    assert smape(A, F) == pytest.approx(100 * np.mean([2 / 3, 0, 0, 4 / 6]))
    assert per_step_mae(A, F) == [0.5, 1.0]
    assert r2(A, A) == 1.0
    assert r2(A, np.full_like(A, A.mean())) == pytest.approx(0.0)


def test_smape_zero_over_zero_is_zero():
    assert smape(np.zeros((2, 2)), np.zeros((2, 2))) == 0.0


def test_mase_scales_per_row():
    scale = np.array([[0.5], [2.0]])
    assert mase(A, F, scale) == pytest.approx(np.mean([1 / 0.5, 0, 0, 2 / 2.0]))


def test_ssim_identical_is_one_and_noise_lowers_it():
    rng = np.random.default_rng(0)
    g = rng.random((3, 2, 6, 6))
    assert ssim(g, g) == pytest.approx(1.0)
    assert ssim(g, g + rng.normal(0, 0.3, g.shape)) < 0.9


def test_accuracy_bundle():
    out = accuracy(A, F, np.ones((2, 1)))
    assert set(out) >= {"mae", "rmse", "smape", "wape", "mase", "r2", "per_step_mae", "ssim"}
    assert out["ssim"] is None
