"""Accuracy metrics, computed in original units.

All functions take ``actual`` and ``forecast`` arrays of the same shape ``[n, horizon, ...]``.
:func:`accuracy` and :func:`ssim` take an optional ``observed`` mask of that shape: values where
it is ``False`` (targets that were interpolated, squares without data) are not scored.
"""

from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "mae", "mase", "per_step_mae", "r2", "rmse", "smape", "ssim", "wape"]


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(actual - forecast)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((actual - forecast) ** 2)))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent (0–200); pairs where both are zero count as zero error."""
    denom = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(2.0 * np.abs(actual - forecast), denom, out=np.zeros_like(denom, dtype=np.float64),
                      where=denom > 0)
    return float(100.0 * np.mean(ratio))


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Weighted absolute percentage error in percent: ``sum|e| / sum|a|``."""
    total = float(np.sum(np.abs(actual)))
    return float(100.0 * np.sum(np.abs(actual - forecast)) / total) if total > 0 else float("nan")


def mase(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> float:
    """Mean absolute scaled error: absolute errors over the in-sample seasonal-naive MAE.

    ``scale`` broadcasts to ``actual`` (one value per cell of each row).
    """
    return float(np.mean(np.abs(actual - forecast) / scale))


def r2(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Coefficient of determination over all values."""
    ss_res = float(np.sum((actual - forecast) ** 2))
    ss_tot = float(np.sum((actual - np.mean(actual)) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def per_step_mae(actual: np.ndarray, forecast: np.ndarray, observed: np.ndarray | None = None) -> list[float]:
    """MAE per horizon step (axis 1), over the observed values of each step."""
    axes = tuple(i for i in range(actual.ndim) if i != 1)
    err = np.abs(actual - forecast)
    if observed is None:
        return [float(v) for v in np.mean(err, axis=axes)]
    counts = observed.sum(axis=axes)
    sums = np.where(observed, err, 0.0).sum(axis=axes)
    return [float(s / c) if c else float("nan") for s, c in zip(sums, counts, strict=True)]


def ssim(actual: np.ndarray, forecast: np.ndarray, window: int = 3, observed: np.ndarray | None = None) -> float:
    """Mean structural similarity of grid forecasts ``[n, horizon, rows, cols]``.

    Gaussian-free SSIM with a uniform ``window × window`` neighbourhood and the usual constants
    (``K1 = 0.01``, ``K2 = 0.03``), data range taken from the (observed) actual values. With
    ``observed``, only neighbourhoods whose every value was observed count.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    a = actual.reshape(-1, *actual.shape[-2:]).astype(np.float64)
    f = forecast.reshape(-1, *forecast.shape[-2:]).astype(np.float64)
    w = min(window, a.shape[-1], a.shape[-2])
    seen = a[observed.reshape(a.shape)] if observed is not None else a
    if seen.size == 0:
        return float("nan")
    data_range = float(seen.max() - seen.min()) or 1.0
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def local_mean(z: np.ndarray) -> np.ndarray:
        return sliding_window_view(z, (w, w), axis=(1, 2)).mean(axis=(-1, -2))

    mu_a, mu_f = local_mean(a), local_mean(f)
    var_a = local_mean(a * a) - mu_a**2
    var_f = local_mean(f * f) - mu_f**2
    cov = local_mean(a * f) - mu_a * mu_f
    s = ((2 * mu_a * mu_f + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_f**2 + c1) * (var_a + var_f + c2))
    if observed is None:
        return float(np.mean(s))
    full = sliding_window_view(observed.reshape(a.shape), (w, w), axis=(1, 2)).all(axis=(-1, -2))
    return float(np.mean(s[full])) if full.any() else float("nan")


def accuracy(actual: np.ndarray, forecast: np.ndarray, mase_scale: np.ndarray,
             grid: bool = False, observed: np.ndarray | None = None) -> dict[str, object]:
    """All accuracy KPIs of one evaluation as a dictionary.

    ``mase_scale`` broadcasts to ``actual``; with ``observed`` only the observed values count
    (``targets_scored`` and ``targets_masked`` say how many).
    """
    scale = np.broadcast_to(mase_scale, actual.shape)
    a, f, sc = actual, forecast, scale
    if observed is not None:
        a, f, sc = actual[observed], forecast[observed], scale[observed]
    out: dict[str, object] = {
        "mae": mae(a, f),
        "rmse": rmse(a, f),
        "smape": smape(a, f),
        "wape": wape(a, f),
        "mase": mase(a, f, sc),
        "r2": r2(a, f),
        "per_step_mae": per_step_mae(actual, forecast, observed),
        "ssim": ssim(actual, forecast, observed=observed) if grid else None,
        "targets_scored": int(a.size),
        "targets_masked": int(actual.size - a.size),
    }
    return out
