"""STN: a spatio-temporal network over each cell's neighbourhood (after Zhang & Patras, 2018).

The model of "Long-term mobile traffic forecasting using deep spatio-temporal neural networks"
(MobiHoc 2018) combines a 3D convolution over (time, rows, cols) with a ConvLSTM over the K×K squares
around the cell it forecasts. Here, in plain torch: ``x[n, L, K, K]`` → 3D-convolution features
(averaged over time) and the last ConvLSTM state, concatenated with the centre's last value, → an MLP
→ the horizon, as a residual on persistence.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities
from ranml.benchmark.models.convlstm import ConvLSTMCell
from ranml.errors import ModelError

__all__ = ["STN"]


class _STN(nn.Module):
    def __init__(self, input_steps: int, horizon: int, side: int, channels: int, hidden: int,
                 mlp: int) -> None:
        super().__init__()
        self.steps, self.side, self.hidden = input_steps, side, hidden
        self.conv3d = nn.Sequential(
            nn.Conv3d(1, channels, 3, padding=1), nn.ReLU(),
            nn.Conv3d(channels, channels, 3, padding=1), nn.ReLU(),
        )
        self.cell = ConvLSTMCell(1, hidden, 3)
        self.head = nn.Sequential(
            nn.Linear((channels + hidden) * side * side + 1, mlp), nn.ReLU(), nn.Linear(mlp, horizon),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        conv = self.conv3d(x.unsqueeze(1)).mean(dim=2)  # [b, channels, K, K]
        h = x.new_zeros(b, self.hidden, self.side, self.side)
        c = x.new_zeros(b, self.hidden, self.side, self.side)
        for t in range(self.steps):
            h, c = self.cell(x[:, t : t + 1], h, c)
        centre = x[:, -1, self.side // 2, self.side // 2].unsqueeze(1)  # [b, 1]
        features = torch.cat([conv.flatten(1), h.flatten(1), centre], dim=1)
        return centre + self.head(features)


class STN(TorchForecaster):
    """3D convolution plus ConvLSTM over a K×K neighbourhood, forecasting the centre cell.

    Params: ``neighbourhood`` (K, odd, default 5), ``channels`` (3D convolution, 8), ``hidden``
    (ConvLSTM, 8), ``mlp`` (16).
    """

    name = "stn"
    capabilities = Capabilities(neighbourhood=True, uses_features=False)
    default_search_space = {"channels": [4, 16], "hidden": [4, 16], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        side = int(self.hparams.get("neighbourhood", 5))
        if s.patch != side:
            raise ModelError(f"stn: built for {s.patch}x{s.patch} patches but params.neighbourhood={side}")
        return _STN(s.input_steps, s.horizon, side, int(self.hparams.get("channels", 8)),
                    int(self.hparams.get("hidden", 8)), int(self.hparams.get("mlp", 16)))
