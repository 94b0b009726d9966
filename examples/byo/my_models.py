"""Bring your own model: a torch module behind ranml's TorchForecaster contract.

The harness trains it, measures it (accuracy, ONNX latency, memory, FLOPs, energy) and exports it
like any zoo model. Use it in a config with ``ref: my_models:TwoLayerLinear`` and put this folder
on ``PYTHONPATH``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities


class _TwoLayer(nn.Module):
    def __init__(self, target: int, input_steps: int, horizon: int, hidden: int) -> None:
        super().__init__()
        self.target = target
        self.net = nn.Sequential(nn.Linear(input_steps, hidden), nn.ReLU(), nn.Linear(hidden, horizon))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x[:, :, self.target]
        last = s[:, -1:]
        return self.net(s - last) + last  # predict the change from the last value


class TwoLayerLinear(TorchForecaster):
    """A two-layer MLP on the target series, normalised by its last value."""

    name = "two-layer-linear"
    capabilities = Capabilities(uses_features=False)
    default_search_space = {"lr": {"low": 1e-3, "high": 3e-2, "log": True}}

    def build(self) -> Any:
        """The module (``self.shape`` and ``self.hparams`` come from the harness)."""
        s = self.shape
        return _TwoLayer(s.target_index, s.input_steps, s.horizon, int(self.hparams.get("hidden", 32)))
