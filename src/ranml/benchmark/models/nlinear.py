"""NLinear (Zeng et al., 2023): subtract the last value, one linear map, add it back."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities

__all__ = ["NLinear"]


class _NLinear(nn.Module):
    def __init__(self, target: int, input_steps: int, horizon: int) -> None:
        super().__init__()
        self.target = target
        self.linear = nn.Linear(input_steps, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x[:, :, self.target]
        last = s[:, -1:]
        return self.linear(s - last) + last


class NLinear(TorchForecaster):
    """Linear map on the series normalised by its last value."""

    name = "nlinear"
    capabilities = Capabilities(uses_features=False)
    default_search_space = {"lr": {"low": 1e-3, "high": 3e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _NLinear(s.target_index, s.input_steps, s.horizon)
