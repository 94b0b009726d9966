"""Informer (Zhou et al., AAAI 2021): ProbSparse self-attention and self-attention distilling.

* ProbSparse attention: only the ``u = ⌈c·ln L⌉`` most "active" queries (largest max-minus-mean of
  their scaled dot products, the paper's sparsity measurement) attend; the others output the mean of
  the values. The paper estimates the measurement on sampled keys for speed; here it uses every key,
  which is exact and deterministic at these window lengths.
* Distilling: between encoder layers a convolution, ELU and max-pooling halve the sequence.

The generative decoder is replaced by a linear map from the distilled sequence to the horizon (the
encoder is the paper's); this keeps one forward pass per forecast, as the paper's decoder does.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._layers import sinusoidal_positions
from ranml.benchmark.models._torch import TorchForecaster
from ranml.errors import ModelError

__all__ = ["Informer"]


class _ProbSparse(nn.Module):
    def __init__(self, d_model: int, heads: int, steps: int, factor: float) -> None:
        super().__init__()
        self.heads, self.dk = heads, d_model // heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.o = nn.Linear(d_model, d_model)
        self.u = max(1, min(steps, math.ceil(factor * math.log(steps))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, steps, d = x.shape
        q, k, v = (t.reshape(b, steps, self.heads, self.dk).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=2))
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.dk)  # [b, h, L, L]
        sparsity = scores.max(dim=3).values - scores.mean(dim=3)  # [b, h, L]
        top = torch.topk(sparsity, self.u, dim=2).indices  # [b, h, u]
        active = torch.gather(scores, 2, top.unsqueeze(3).expand(b, self.heads, self.u, steps))
        attended = torch.matmul(torch.softmax(active, dim=3), v)  # [b, h, u, dk]
        lazy = v.mean(dim=2, keepdim=True).expand(b, self.heads, steps, self.dk)
        out = torch.scatter(lazy, 2, top.unsqueeze(3).expand(b, self.heads, self.u, self.dk), attended)
        return self.o(out.transpose(1, 2).reshape(b, steps, d))


class _Layer(nn.Module):
    def __init__(self, d_model: int, heads: int, steps: int, factor: float, dropout: float) -> None:
        super().__init__()
        self.attn = _ProbSparse(d_model, heads, steps, factor)
        self.ff = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))
        self.n1, self.n2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.n1(x + self.drop(self.attn(x)))
        return self.n2(x + self.drop(self.ff(x)))


class _Distil(nn.Module):
    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(d_model, d_model, 3, padding=1)
        self.norm = nn.BatchNorm1d(d_model)
        self.pool = nn.MaxPool1d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(nn.functional.elu(self.norm(self.conv(x.transpose(1, 2))))).transpose(1, 2)


class _Informer(nn.Module):
    def __init__(self, n_features: int, steps: int, horizon: int, d_model: int, heads: int, layers: int,
                 factor: float, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, d_model)
        self.register_buffer("pe", sinusoidal_positions(steps, d_model))
        blocks: list[nn.Module] = []
        length = steps
        for i in range(layers):
            blocks.append(_Layer(d_model, heads, length, factor, dropout))
            if i < layers - 1:
                blocks.append(_Distil(d_model))
                length = (length + 1) // 2
        self.encoder = nn.Sequential(*blocks)
        self.head = nn.Linear(length * d_model, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(x) + self.pe)
        return self.head(h.flatten(1))


class Informer(TorchForecaster):
    """ProbSparse-attention encoder with distilling and a linear head.

    Params: ``d_model`` (32), ``heads`` (4), ``layers`` (2), ``factor`` (c, 5), ``dropout`` (0.05).
    """

    name = "informer"
    default_search_space = {"d_model": [16, 64], "layers": [1, 3], "lr": {"low": 3e-4, "high": 5e-3, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        d_model, heads = int(self.hparams.get("d_model", 32)), int(self.hparams.get("heads", 4))
        if d_model % heads or d_model % 2:
            raise ModelError(f"informer: d_model={d_model} must be even and a multiple of heads={heads}")
        return _Informer(s.n_features, s.input_steps, s.horizon, d_model, heads, int(self.hparams.get("layers", 2)),
                         float(self.hparams.get("factor", 5.0)), float(self.hparams.get("dropout", 0.05)))
