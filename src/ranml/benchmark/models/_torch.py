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

__all__ = ["TorchForecaster"]


class TorchForecaster(ForecastModel):
    """A model whose forecast is a ``torch.nn.Module`` (built lazily on first use)."""

    def __init__(self, shape: ModelShape, **hparams: Any) -> None:
        super().__init__(shape, **hparams)
        self._net: Any = None

    @abc.abstractmethod
    def build(self) -> Any:
        """Create the ``torch.nn.Module`` for ``self.shape`` and ``self.hparams``."""

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
