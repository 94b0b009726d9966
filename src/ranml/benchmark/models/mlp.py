"""MLP: the flattened window through fully connected layers."""

from __future__ import annotations

from typing import Any

from torch import nn

from ranml.benchmark.models._torch import TorchForecaster

__all__ = ["MLP"]


class MLP(TorchForecaster):
    """``flatten(x) → [Linear, ReLU, Dropout] × layers → Linear(horizon)``."""

    name = "mlp"
    default_search_space = {"hidden": [32, 256], "layers": [1, 3], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        hidden = int(self.hparams.get("hidden", 128))
        layers = int(self.hparams.get("layers", 2))
        dropout = float(self.hparams.get("dropout", 0.1))
        mods: list[nn.Module] = [nn.Flatten()]
        width = s.input_steps * s.n_features
        for _ in range(layers):
            mods += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        mods.append(nn.Linear(width, s.horizon))
        return nn.Sequential(*mods)
