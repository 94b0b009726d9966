"""The shared conformance check every model (zoo or bring-your-own) must pass.

Call :func:`check_model` from a model's test::

    def test_lstm_conforms():
        check_model("lstm")

It checks the contract, not accuracy: cheap construction, a clear error before training, output
shapes, finite values, same seed → same forecast, the torch module agrees with ``predict`` and,
for exportable models, the ONNX export agrees with it in ONNX Runtime within ``onnx_tolerance``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ranml.benchmark.models import resolve_model
from ranml.benchmark.models.base import ForecastModel, ModelShape, TrainSettings
from ranml.errors import ModelError

__all__ = ["ConformanceResult", "check_model", "toy_problem"]


@dataclass(frozen=True)
class ConformanceResult:
    """Numbers measured by :func:`check_model` (for model-specific assertions)."""

    model: ForecastModel
    forecast: np.ndarray
    onnx_max_abs_diff: float | None
    first_val_loss: float
    best_val_loss: float


def toy_problem(spatial: bool, n: int = 96, input_steps: int = 48, horizon: int = 4,
                features: int = 3, season: int = 24, grid: tuple[int, int] = (4, 4),
                seed: int = 0, patch: int | None = None) -> tuple[ModelShape, dict[str, np.ndarray]]:
    """A small, learnable problem: noisy daily sines, scaled to unit range.

    Series windows, grids, or (``patch``) ``patch × patch`` neighbourhoods forecasting their centre.
    """
    if patch is not None:
        shape, data = toy_problem(True, n, input_steps, horizon, features, season, (patch, patch), seed)
        centre = patch // 2
        data = {k: v[:, :, centre, centre].copy() if k.startswith("y") else v for k, v in data.items()}
        return ModelShape(input_steps, horizon, 1, 0, season, patch=patch), data
    rng = np.random.default_rng(seed)
    t0 = rng.integers(0, season, n)
    steps = np.arange(input_steps + horizon)
    phase = 2 * np.pi * (t0[:, None] + steps[None, :]) / season
    base = np.sin(phase)
    if spatial:
        r, c = grid
        amp = rng.uniform(0.5, 1.5, (1, 1, r, c))
        series = base[:, :, None, None] * amp + 0.05 * rng.standard_normal((n, len(steps), r, c))
        x, y = series[:, :input_steps], series[:, input_steps:]
        shape = ModelShape(input_steps, horizon, 1, 0, season, grid)
    else:
        series = base + 0.05 * rng.standard_normal(base.shape)
        extra = [np.cos(phase)] + [rng.standard_normal(base.shape) * 0.1 for _ in range(features - 2)]
        full = np.stack([series, *extra], axis=2)
        x, y = full[:, :input_steps], series[:, input_steps:]
        shape = ModelShape(input_steps, horizon, features, 0, season)
    x, y = x.astype(np.float32), y.astype(np.float32)
    cut = int(0.75 * n)
    return shape, {"x_train": x[:cut], "y_train": y[:cut], "x_val": x[cut:], "y_val": y[cut:]}


def _fit(cls: type[ForecastModel], shape: ModelShape, data: dict[str, np.ndarray],
         settings: TrainSettings, params: dict[str, Any]) -> tuple[ForecastModel, Any]:
    model = cls(shape, **params)
    report = model.fit(data["x_train"], data["y_train"], data["x_val"], data["y_val"], settings)
    return model, report


def check_model(ref: str, params: dict[str, Any] | None = None, epochs: int = 3,
                onnx_tolerance: float = 1e-4) -> ConformanceResult:
    """Run the conformance checks on model ``ref``; raise ``AssertionError`` naming what failed."""
    import torch

    params = params or {}
    cls = resolve_model(ref)
    caps = cls.capabilities
    view = cls.view(params)
    shape, data = toy_problem(caps.spatial, patch=int(view.removeprefix("patch")) if view.startswith("patch") else None)
    settings = TrainSettings(epochs=epochs, batch_size=32, lr=3e-3, patience=epochs, seed=123)

    model = cls(shape, **params)
    assert cls.name, f"{cls.__name__} has no name"
    model.check()  # what the harness runs when it plans a benchmark
    if caps.trainable:
        assert not model.fitted, f"{ref}: a new trainable model claims to be fitted"
        try:
            model.predict(data["x_val"])
        except ModelError:
            pass
        else:
            raise AssertionError(f"{ref}: predict() before fit() did not raise ModelError")

    model, report = _fit(cls, shape, data, settings, params)
    assert model.fitted, f"{ref}: not fitted after fit()"
    forecast = model.predict(data["x_val"])
    want = data["y_val"].shape
    assert forecast.shape == want, f"{ref}: forecast shape {forecast.shape}, expected {want}"
    assert forecast.dtype == np.float32, f"{ref}: forecast dtype {forecast.dtype}, expected float32"
    assert np.isfinite(forecast).all(), f"{ref}: non-finite forecast"

    again, _ = _fit(cls, shape, data, settings, params)
    np.testing.assert_allclose(again.predict(data["x_val"]), forecast, rtol=0, atol=1e-6,
                               err_msg=f"{ref}: same seed gave a different forecast")

    module = model.torch_module()
    assert not module.training, f"{ref}: torch_module() is not in eval mode"
    with torch.inference_mode():
        direct = module(torch.from_numpy(data["x_val"])).numpy()
    np.testing.assert_allclose(direct, forecast, rtol=0, atol=1e-6,
                               err_msg=f"{ref}: torch_module() disagrees with predict()")

    onnx_diff = None
    if caps.exportable:
        import onnxruntime as ort

        from ranml.benchmark.onnx_export import INPUT_NAME, export_onnx

        blob = export_onnx(module, data["x_val"][:1])
        sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
        onnx_out = sess.run(None, {INPUT_NAME: data["x_val"]})[0]
        onnx_diff = float(np.max(np.abs(onnx_out - forecast)))
        assert onnx_diff <= onnx_tolerance, f"{ref}: ONNX differs from torch by {onnx_diff:.2e}"

    restored = cls(shape, **params)
    restored.load_state(model.state())
    np.testing.assert_allclose(restored.predict(data["x_val"]), forecast, rtol=0, atol=1e-6,
                               err_msg=f"{ref}: a restored checkpoint forecasts differently")

    first = report.history[0][1] if report.history else float("nan")
    if caps.trainable:
        assert report.epochs >= 1 and report.history, f"{ref}: fit() reported no epochs"
        assert report.best_val_loss <= first, f"{ref}: best validation loss above the first epoch's"
    return ConformanceResult(model, forecast, onnx_diff, first, report.best_val_loss)
