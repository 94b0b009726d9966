"""A Transformer encoder over time steps (all input features per step)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._layers import sinusoidal_positions
from ranml.benchmark.models._torch import TorchForecaster
from ranml.errors import ModelError

__all__ = ["TransformerEncoder"]


class _Encoder(nn.Module):
    def __init__(self, n_features: int, input_steps: int, horizon: int, d_model: int, heads: int,
                 layers: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, d_model)
        self.register_buffer("pe", sinusoidal_positions(input_steps, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(x) + self.pe)
        return self.head(h[:, -1])


class TransformerEncoder(TorchForecaster):
    """Per-step embedding + sinusoidal positions → encoder → last token → horizon."""

    name = "transformer"
    default_search_space = {"d_model": [16, 64], "layers": [1, 3], "lr": {"low": 3e-4, "high": 5e-3, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        d_model = int(self.hparams.get("d_model", 32))
        heads = int(self.hparams.get("heads", 4))
        if d_model % heads or d_model % 2:
            raise ModelError(f"transformer: d_model={d_model} must be even and a multiple of heads={heads}")
        return _Encoder(s.n_features, s.input_steps, s.horizon, d_model, heads,
                        int(self.hparams.get("layers", 2)), float(self.hparams.get("dropout", 0.1)))
