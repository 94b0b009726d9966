"""Persistence: every future step equals the last observed value (the naive baseline)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities

__all__ = ["Persistence"]


class _Last(nn.Module):
    def __init__(self, target: int, horizon: int) -> None:
        super().__init__()
        self.target, self.horizon = target, horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, -1, self.target : self.target + 1].expand(-1, self.horizon).contiguous()


class Persistence(TorchForecaster):
    """``y[h] = x[-1]`` for every horizon step."""

    name = "persistence"
    capabilities = Capabilities(trainable=False, uses_features=False)

    def build(self) -> Any:
        """The module: take the last target value, repeat it over the horizon."""
        return _Last(self.shape.target_index, self.shape.horizon).eval()
