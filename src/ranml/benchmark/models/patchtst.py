"""PatchTST (Nie et al., 2023): the target series cut into patches, a Transformer over patches."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities
from ranml.errors import ModelError

__all__ = ["PatchTST"]


class _PatchTST(nn.Module):
    def __init__(self, target: int, input_steps: int, horizon: int, patch: int, stride: int,
                 d_model: int, heads: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.target, self.patch, self.stride = target, patch, stride
        n_patches = (input_steps - patch) // stride + 1
        self.embed = nn.Linear(patch, d_model)
        self.pos = nn.Parameter(torch.randn(1, n_patches, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(n_patches * d_model, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x[:, :, self.target]
        mean = s.mean(dim=1, keepdim=True)
        std = s.std(dim=1, keepdim=True) + 1e-5
        z = ((s - mean) / std).unfold(1, self.patch, self.stride)  # [B, P, patch]
        h = self.encoder(self.embed(z) + self.pos)
        return self.head(h.flatten(1)) * std + mean


class PatchTST(TorchForecaster):
    """Channel-independent patch Transformer with instance normalisation."""

    name = "patchtst"
    capabilities = Capabilities(uses_features=False)
    default_search_space = {"d_model": [16, 64], "layers": [1, 3], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        patch = int(self.hparams.get("patch", 16))
        stride = int(self.hparams.get("stride", patch // 2))
        if patch > s.input_steps:
            raise ModelError(f"patchtst: patch={patch} is longer than input_steps={s.input_steps}")
        d_model = int(self.hparams.get("d_model", 32))
        heads = int(self.hparams.get("heads", 4))
        if d_model % heads:
            raise ModelError(f"patchtst: d_model={d_model} must be a multiple of heads={heads}")
        return _PatchTST(s.target_index, s.input_steps, s.horizon, patch, stride, d_model, heads,
                         int(self.hparams.get("layers", 2)), float(self.hparams.get("dropout", 0.1)))
