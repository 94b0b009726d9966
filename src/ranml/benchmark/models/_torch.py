"""Shared plumbing for models backed by a ``torch.nn.Module``."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from ranml.benchmark.models.base import (
    EpochCallback,
    FitReport,
    ForecastModel,
    ModelShape,
    TrainSettings,
)
from ranml.errors import ModelError

__all__ = ["TorchForecaster"]


class TorchForecaster(ForecastModel):
    """A model whose forecast is a ``torch.nn.Module`` (built lazily on first use)."""

    def __init__(self, shape: ModelShape, **hparams: Any) -> None:
        super().__init__(shape, **hparams)
        self._net: Any = None

    @abc.abstractmethod
    def build(self) -> Any:
        """Create the ``torch.nn.Module`` for ``self.shape`` and ``self.hparams``."""

    def check(self) -> None:
        """Build the module, refuse parameters it never reads, and run one forward pass on zeros."""
        import torch

        s = self.shape
        given = dict(self.hparams)
        reading = _ReadRecorder(given)
        self.hparams = reading
        try:
            net = self.build()
        except (ValueError, TypeError, RuntimeError, AssertionError, ZeroDivisionError) as exc:
            raise ModelError(f"{self.name}: cannot build with params {given} for input_steps={s.input_steps}, "
                             f"horizon={s.horizon}: {exc}") from None
        finally:
            self.hparams = given
        unknown = sorted(set(given) - reading.read)
        if unknown:
            known = ", ".join(sorted(reading.read)) or "none"
            raise ModelError(f"{self.name}: params {unknown} are not parameters of this model (it reads: "
                             f"{known}); fix the spelling or remove them")
        inputs, expected = s.example_input(2), s.example_output(2)
        try:
            with torch.no_grad():
                out = net.eval()(torch.zeros(inputs))
        except (ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise ModelError(f"{self.name}: a forward pass on input {inputs} fails with params {given}: {exc}; "
                             "change the params or the window") from None
        if tuple(out.shape) != expected:
            raise ModelError(f"{self.name}: input {inputs} gives output {tuple(out.shape)}, expected {expected}; "
                             "change the params or the window")

    @property
    def net(self) -> Any:
        """The module (built on first access, seeded by the caller)."""
        if self._net is None:
            self._net = self.build()
        return self._net

    def fit(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        settings: TrainSettings,
        on_epoch: EpochCallback | None = None,
    ) -> FitReport:
        """Train with :func:`ranml.benchmark.train.train_module`."""
        from ranml.benchmark.train import seed_everything, train_module

        seed_everything(settings.seed, settings.threads)
        self._net = self.build()
        if not self.capabilities.trainable:
            self._fitted = True
            return FitReport(0, 0, float("nan"), 0.0, "not_trainable")
        report = train_module(self._net, x_train, y_train, x_val, y_val, settings, on_epoch)
        self._fitted = True
        return report

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Forecast in scaled units."""
        from ranml.benchmark.train import predict_module

        self.require_fitted()
        return predict_module(self.net, x)

    def torch_module(self) -> Any:
        """The trained module in eval mode."""
        self.require_fitted()
        return self.net.eval()

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore weights saved by :meth:`state`."""
        self.net.load_state_dict(state["state_dict"])
        self._fitted = True


class _ReadRecorder(dict[str, Any]):
    """A parameter dictionary that remembers which keys the model read."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)
