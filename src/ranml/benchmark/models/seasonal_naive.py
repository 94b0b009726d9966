"""Seasonal naive: the value one season (one day) before each future step."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities

__all__ = ["SeasonalNaive"]


class _Seasonal(nn.Module):
    def __init__(self, target: int, input_steps: int, horizon: int, season: int) -> None:
        super().__init__()
        idx = [input_steps - season + (h % season) for h in range(horizon)]
        self.register_buffer("idx", torch.tensor(idx, dtype=torch.long))
        self.target = target

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx: torch.Tensor = self.idx  # type: ignore[assignment]
        return x[:, :, self.target].index_select(1, idx)


class SeasonalNaive(TorchForecaster):
    """``y[h] = x[L - season + h mod season]``; needs one full season of input."""

    name = "seasonal_naive"
    capabilities = Capabilities(trainable=False, uses_features=False, needs_season=True)

    def build(self) -> Any:
        """The module: gather the values one season back."""
        s = self.shape
        return _Seasonal(s.target_index, s.input_steps, s.horizon, s.season_steps).eval()
