"""DLinear (Zeng et al., 2023): moving-average decomposition, one linear map per component."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._layers import MovingAverage
from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities

__all__ = ["DLinear"]


class _DLinear(nn.Module):
    def __init__(self, target: int, input_steps: int, horizon: int, kernel: int) -> None:
        super().__init__()
        self.target = target
        self.average = MovingAverage(kernel)
        self.trend = nn.Linear(input_steps, horizon)
        self.seasonal = nn.Linear(input_steps, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x[:, :, self.target]
        trend = self.average(s.unsqueeze(2)).squeeze(2)
        return self.trend(trend) + self.seasonal(s - trend)


class DLinear(TorchForecaster):
    """Trend (moving average) + remainder, each mapped ``input_steps → horizon`` linearly."""

    name = "dlinear"
    capabilities = Capabilities(uses_features=False)
    default_search_space = {"kernel": [13, 49], "lr": {"low": 1e-3, "high": 3e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _DLinear(s.target_index, s.input_steps, s.horizon, int(self.hparams.get("kernel", 25)))
