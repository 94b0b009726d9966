"""ConvLSTM (Shi et al., 2015) for grid telemetry: ``x[n, L, rows, cols] → y[n, H, rows, cols]``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities

__all__ = ["ConvLSTM", "ConvLSTMCell"]


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: gates from a convolution over the input and the hidden state."""

    def __init__(self, c_in: int, hidden: int, kernel: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(c_in + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The next hidden and cell state for input ``x[b, c_in, rows, cols]``."""
        i, f, o, g = torch.chunk(self.gates(torch.cat([x, h], dim=1)), 4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class _ConvLSTM(nn.Module):
    def __init__(self, input_steps: int, horizon: int, hidden: int, kernel: int) -> None:
        super().__init__()
        self.steps = input_steps
        self.hidden = hidden
        self.cell = ConvLSTMCell(1, hidden, kernel)
        self.head = nn.Conv2d(hidden + 1, horizon, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _steps, rows, cols = x.shape
        h = x.new_zeros(b, self.hidden, rows, cols)
        c = x.new_zeros(b, self.hidden, rows, cols)
        for t in range(self.steps):
            h, c = self.cell(x[:, t : t + 1], h, c)
        last = x[:, -1:]
        return last + self.head(torch.cat([h, last], dim=1))


class ConvLSTM(TorchForecaster):
    """One ConvLSTM layer over the input grids, with a 1×1 convolution head.

    The head predicts each horizon step as a change from the last grid (a residual on persistence).

    Unrolled over time (the input length is fixed), so it exports to plain ONNX convolutions.
    """

    name = "convlstm"
    capabilities = Capabilities(spatial=True, uses_features=False)
    default_search_space = {"hidden": [8, 32], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _ConvLSTM(s.input_steps, s.horizon, int(self.hparams.get("hidden", 16)),
                         int(self.hparams.get("kernel", 3)))
