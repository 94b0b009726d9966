"""Building blocks shared by several zoo models."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["MovingAverage", "sinusoidal_positions"]


def sinusoidal_positions(steps: int, d_model: int) -> torch.Tensor:
    """The Transformer's fixed sinusoidal position table ``[1, steps, d_model]``."""
    pos = torch.arange(steps).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(1, steps, d_model)
    pe[0, :, 0::2] = torch.sin(pos * div)
    pe[0, :, 1::2] = torch.cos(pos * div)
    return pe


class MovingAverage(nn.Module):
    """Centred moving average along time of ``x[b, steps, d]``, edges padded with the end values."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel if kernel % 2 == 1 else kernel + 1
        self.pool = nn.AvgPool1d(self.kernel, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The trend of ``x``."""
        pad = (self.kernel - 1) // 2
        padded = torch.cat([x[:, :1].expand(-1, pad, -1), x, x[:, -1:].expand(-1, pad, -1)], dim=1)
        return self.pool(padded.transpose(1, 2)).transpose(1, 2)
