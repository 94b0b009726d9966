"""A hierarchical spatio-temporal model in the spirit of HiSTM (hierarchical spatio-temporal Mamba).

HiSTM, the best model of the field's reference table on the Milan grid, pairs a hierarchical spatial
encoder with a selective state-space model over time. This model follows that structure in plain torch,
on the grid view ``x[n, L, rows, cols]`` → ``y[n, H, rows, cols]``:

1. spatial encoder, per frame and at two scales: a 3×3 convolution at full resolution plus one on the
   2×2-average-pooled grid, upsampled back (coarse context added to local detail);
2. temporal model: every square's feature sequence through selective-SSM blocks
   (:class:`~ranml.benchmark.models.mamba.SelectiveSSMBlock`);
3. decoder: a 3×3 convolution mixing the squares' final states, a 1×1 convolution to the horizon, as a
   residual on the last frame.

It is not the paper's code (its attention-based fusion and exact encoder are not reproduced); the
accuracy benchmark says how close the structure gets.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities
from ranml.benchmark.models.mamba import SelectiveSSMBlock

__all__ = ["HiSTM"]


class _HiSTM(nn.Module):
    def __init__(self, horizon: int, d: int, layers: int, state: int) -> None:
        super().__init__()
        self.d = d
        self.local = nn.Conv2d(1, d, 3, padding=1)
        self.coarse = nn.Conv2d(1, d, 3, padding=1)
        self.pool = nn.AvgPool2d(2, stride=2, ceil_mode=True)
        self.temporal = nn.Sequential(*[SelectiveSSMBlock(d, state, 2, 3) for _ in range(layers)])
        self.mix = nn.Conv2d(d, d, 3, padding=1)
        self.head = nn.Conv2d(d + 1, horizon, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, steps, rows, cols = x.shape
        frames = x.reshape(b * steps, 1, rows, cols)
        coarse = F.interpolate(self.coarse(self.pool(frames)), size=(rows, cols), mode="nearest")
        feat = F.gelu(self.local(frames) + coarse)  # [b·L, d, R, C]
        seq = feat.reshape(b, steps, self.d, rows * cols).permute(0, 3, 1, 2).reshape(b * rows * cols, steps, self.d)
        last = self.temporal(seq)[:, -1].reshape(b, rows, cols, self.d).permute(0, 3, 1, 2)
        mixed = F.gelu(self.mix(last))
        frame = x[:, -1:]
        return frame + self.head(torch.cat([mixed, frame], dim=1))


class HiSTM(TorchForecaster):
    """Two-scale spatial encoder, selective SSM over time, convolutional decoder (grid view).

    Params: ``d_model`` (16), ``layers`` (1), ``state`` (8).
    """

    name = "histm"
    capabilities = Capabilities(spatial=True, uses_features=False)
    default_search_space = {"d_model": [8, 32], "layers": [1, 2], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _HiSTM(s.horizon, int(self.hparams.get("d_model", 16)), int(self.hparams.get("layers", 1)),
                      int(self.hparams.get("state", 8)))
