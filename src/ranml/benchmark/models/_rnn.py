"""Recurrent forecaster shared by the LSTM and GRU models (one module, two cells)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster

__all__ = ["RecurrentForecaster"]


class _Recurrent(nn.Module):
    def __init__(self, cell: str, n_features: int, hidden: int, layers: int, horizon: int,
                 dropout: float) -> None:
        super().__init__()
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(n_features, hidden, num_layers=layers, batch_first=True,
                           dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class RecurrentForecaster(TorchForecaster):
    """The last hidden state of a stacked recurrent network, mapped to the horizon."""

    cell = "lstm"
    default_search_space = {"hidden": [16, 96], "layers": [1, 2], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _Recurrent(
            self.cell, s.n_features, int(self.hparams.get("hidden", 48)),
            int(self.hparams.get("layers", 1)), s.horizon, float(self.hparams.get("dropout", 0.0)),
        )
