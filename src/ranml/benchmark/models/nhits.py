"""N-HiTS (Challu et al., AAAI 2023): stacks of MLPs on multi-rate pooled inputs, hierarchical interpolation.

Each stack sees the (residual) target window max-pooled with its own kernel, predicts a backcast of the
window and a coarse forecast of ``ceil(horizon / ratio)`` knots, and interpolates the knots linearly to
the horizon; forecasts add up, backcasts are subtracted from the input of the next stack. Coarse
stacks model the slow components (a day's shape), fine ones the fast.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities
from ranml.errors import ModelError

__all__ = ["NHiTS"]


class _Block(nn.Module):
    def __init__(self, input_steps: int, horizon: int, pool: int, ratio: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.pool = nn.MaxPool1d(pool, stride=pool, ceil_mode=True)
        pooled = math.ceil(input_steps / pool)
        dims = [pooled] + [hidden] * layers
        body: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            body += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*body)
        self.knots = max(1, math.ceil(horizon / ratio))
        self.backcast = nn.Linear(hidden, input_steps)
        self.forecast = nn.Linear(hidden, self.knots)
        self.horizon = horizon

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(self.pool(x.unsqueeze(1)).squeeze(1))
        knots = self.forecast(h)
        if self.knots == self.horizon:
            return self.backcast(h), knots
        fore = F.interpolate(knots.unsqueeze(1), size=self.horizon, mode="linear", align_corners=True).squeeze(1)
        return self.backcast(h), fore


class _NHiTS(nn.Module):
    def __init__(self, target: int, input_steps: int, horizon: int, pools: list[int], ratios: list[int],
                 hidden: int, layers: int) -> None:
        super().__init__()
        self.target = target
        self.blocks = nn.ModuleList(_Block(input_steps, horizon, p, r, hidden, layers)
                                    for p, r in zip(pools, ratios, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x[:, :, self.target]
        level = residual[:, -1:]
        residual = residual - level  # forecast changes from the last value
        total = torch.zeros_like(residual[:, :1])
        for block in self.blocks:
            back, fore = block(residual)
            residual = residual - back
            total = total + fore
        return level + total


class NHiTS(TorchForecaster):
    """Three MLP stacks with multi-rate pooling and interpolated forecasts.

    Params: ``pools`` (max-pool kernel per stack, default 8, 4, 1), ``ratios`` (horizon / knots per
    stack, default 4, 2, 1), ``hidden`` (64), ``layers`` (2).
    """

    name = "nhits"
    capabilities = Capabilities(uses_features=False)
    default_search_space = {"hidden": [32, 256], "layers": [1, 3], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        pools = [int(p) for p in self.hparams.get("pools", [8, 4, 1])]
        ratios = [int(r) for r in self.hparams.get("ratios", [4, 2, 1])]
        if len(pools) != len(ratios) or min(pools + ratios) < 1:
            raise ModelError(f"nhits: pools {pools} and ratios {ratios} need one positive entry per stack")
        if max(pools) > s.input_steps:
            raise ModelError(f"nhits: pool {max(pools)} is longer than input_steps={s.input_steps}")
        return _NHiTS(s.target_index, s.input_steps, s.horizon, pools, ratios,
                      int(self.hparams.get("hidden", 64)), int(self.hparams.get("layers", 2)))
