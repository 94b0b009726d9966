"""A Mamba-style selective state-space model (Gu & Dao, 2023) in plain torch, no CUDA-only kernels.

Each block: a linear expansion to ``2·d_inner`` (signal and gate), a causal depthwise convolution, and a
selective scan whose step ``Δ``, input map ``B`` and output map ``C`` depend on the input:
``h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t``, ``y_t = C_t h_t + D x_t``, gated by ``silu(z)``. The scan
is a loop over the fixed input length (the hardware-aware parallel scan is an optimisation of the same
recurrence), so the model exports to plain ONNX operators.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster

__all__ = ["Mamba", "SelectiveSSMBlock"]


class SelectiveSSMBlock(nn.Module):
    """One Mamba-style block on ``x[b, steps, d]``: expansion, causal convolution, selective scan, gate, residual."""

    def __init__(self, d: int, state: int, expand: int, conv: int) -> None:
        super().__init__()
        inner = expand * d
        self.inner, self.state, self.conv_len = inner, state, conv
        self.norm = nn.LayerNorm(d)
        self.inp = nn.Linear(d, 2 * inner)
        self.conv = nn.Conv1d(inner, inner, conv, groups=inner)
        self.x_proj = nn.Linear(inner, 1 + 2 * state)  # Δ (shared rank-1), B, C
        self.dt = nn.Linear(1, inner)
        self.a_log = nn.Parameter(torch.log(torch.arange(1, state + 1, dtype=torch.float32)).repeat(inner, 1))
        self.d = nn.Parameter(torch.ones(inner))
        self.out = nn.Linear(inner, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` plus the block's output, same shape."""
        b, steps, _ = x.shape
        u, z = torch.chunk(self.inp(self.norm(x)), 2, dim=2)
        u = F.silu(self.conv(F.pad(u.transpose(1, 2), (self.conv_len - 1, 0))).transpose(1, 2))
        proj = self.x_proj(u)
        delta = F.softplus(self.dt(proj[:, :, :1]))  # [b, L, inner]
        bm, cm = proj[:, :, 1 : 1 + self.state], proj[:, :, 1 + self.state :]
        a = -torch.exp(self.a_log)  # [inner, state]
        h = x.new_zeros(b, self.inner, self.state)
        ys = []
        for t in range(steps):
            dt = delta[:, t].unsqueeze(2)  # [b, inner, 1]
            h = torch.exp(dt * a) * h + dt * bm[:, t].unsqueeze(1) * u[:, t].unsqueeze(2)
            ys.append((h * cm[:, t].unsqueeze(1)).sum(dim=2) + self.d * u[:, t])
        y = torch.stack(ys, dim=1) * F.silu(z)
        return x + self.out(y)


class _Mamba(nn.Module):
    def __init__(self, n_features: int, horizon: int, d: int, layers: int, state: int, expand: int,
                 conv: int) -> None:
        super().__init__()
        self.proj = nn.Linear(n_features, d)
        self.blocks = nn.Sequential(*[SelectiveSSMBlock(d, state, expand, conv) for _ in range(layers)])
        self.head = nn.Linear(d, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.proj(x))[:, -1])


class Mamba(TorchForecaster):
    """Selective SSM blocks: ``d_model`` (32), ``layers`` (2), ``state`` (8), ``expand`` (2), ``conv`` (4)."""

    name = "mamba"
    default_search_space = {"d_model": [16, 64], "layers": [1, 3], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _Mamba(s.n_features, s.horizon, int(self.hparams.get("d_model", 32)), int(self.hparams.get("layers", 2)),
                      int(self.hparams.get("state", 8)), int(self.hparams.get("expand", 2)),
                      int(self.hparams.get("conv", 4)))
