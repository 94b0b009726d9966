"""TCN (Bai et al., 2018): dilated causal convolutions with residual blocks."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster

__all__ = ["TCN"]


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1 = nn.Conv1d(c_in, c_out, kernel, dilation=dilation)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, dilation=dilation)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv1(nn.functional.pad(x, (self.pad, 0))))
        h = self.drop(torch.relu(self.conv2(nn.functional.pad(self.drop(h), (self.pad, 0)))))
        return torch.relu(h + self.skip(x))


class _TCN(nn.Module):
    def __init__(self, n_features: int, channels: int, levels: int, kernel: int, horizon: int,
                 dropout: float) -> None:
        super().__init__()
        blocks = []
        c = n_features
        for i in range(levels):
            blocks.append(_Block(c, channels, kernel, 2**i, dropout))
            c = channels
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(channels, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.transpose(1, 2))
        return self.head(h[:, :, -1])


class TCN(TorchForecaster):
    """Causal dilated convolution stack (receptive field ``1 + 2(k-1)(2^levels - 1)``)."""

    name = "tcn"
    default_search_space = {"channels": [16, 64], "levels": [3, 6], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _TCN(
            s.n_features, int(self.hparams.get("channels", 32)), int(self.hparams.get("levels", 5)),
            int(self.hparams.get("kernel", 3)), s.horizon, float(self.hparams.get("dropout", 0.1)),
        )
