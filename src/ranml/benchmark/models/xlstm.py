"""xLSTM (Beck et al., NeurIPS 2024): sLSTM and mLSTM blocks with exponential gating, in plain torch.

* sLSTM: scalar memory per unit with exponential input and forget gates, a normaliser state ``n`` and
  a stabiliser ``m`` (log-space maximum) so the exponentials never overflow.
* mLSTM: a matrix memory ``C = f·C + i·v kᵀ`` read out with a query, ``h = o ⊙ C q / max(|nᵀq|, 1)``.

The blocks alternate (``blocks`` of them, starting with mLSTM), each with a residual connection and
layer norm; the last hidden state maps to the horizon. Unrolled over the fixed input length, so the
model exports to plain ONNX operators (no custom CUDA kernels).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster

__all__ = ["XLSTM"]


class _SLSTM(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.w = nn.Linear(d, 4 * d)
        self.r = nn.Linear(d, 4 * d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, steps, d = x.shape
        h = x.new_zeros(b, d)
        c = x.new_zeros(b, d)
        n = x.new_ones(b, d)
        m = x.new_zeros(b, d)
        wx = self.w(x)
        out = []
        for t in range(steps):
            zt, it, ft, ot = torch.chunk(wx[:, t] + self.r(h), 4, dim=1)
            log_f = -nn.functional.softplus(-ft)  # log sigmoid: a forget gate in (0, 1)
            m_new = torch.maximum(log_f + m, it)
            i = torch.exp(it - m_new)
            f = torch.exp(log_f + m - m_new)
            c = f * c + i * torch.tanh(zt)
            n = f * n + i
            h = torch.sigmoid(ot) * c / n
            m = m_new
            out.append(h)
        return torch.stack(out, dim=1)


class _MLSTM(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.gates = nn.Linear(d, 3 * d)  # input, forget (per head dim), output
        self.scale = d**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, steps, d = x.shape
        q, k, v = torch.chunk(self.qkv(x), 3, dim=2)
        ig, fg, og = torch.chunk(self.gates(x), 3, dim=2)
        cmem = x.new_zeros(b, d, d)
        n = x.new_zeros(b, d)
        m = x.new_zeros(b, 1)
        out = []
        for t in range(steps):
            it = ig[:, t].mean(dim=1, keepdim=True)  # one scalar gate per step, as in the paper's heads
            log_f = -nn.functional.softplus(-fg[:, t].mean(dim=1, keepdim=True))
            m_new = torch.maximum(log_f + m, it)
            i = torch.exp(it - m_new)
            f = torch.exp(log_f + m - m_new)
            kt = k[:, t] * self.scale
            cmem = f.unsqueeze(2) * cmem + i.unsqueeze(2) * (v[:, t].unsqueeze(2) * kt.unsqueeze(1))
            n = f * n + i * kt
            qt = q[:, t]
            num = torch.bmm(cmem, qt.unsqueeze(2)).squeeze(2)
            den = torch.clamp(torch.abs((n * qt).sum(dim=1, keepdim=True)), min=1.0)
            out.append(torch.sigmoid(og[:, t]) * num / den)
            m = m_new
        return torch.stack(out, dim=1)


class _XLSTM(nn.Module):
    def __init__(self, n_features: int, horizon: int, d: int, blocks: int) -> None:
        super().__init__()
        self.proj = nn.Linear(n_features, d)
        self.blocks = nn.ModuleList(_MLSTM(d) if i % 2 == 0 else _SLSTM(d) for i in range(blocks))
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(blocks))
        self.head = nn.Linear(d, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.proj(x)
        for block, norm in zip(self.blocks, self.norms, strict=True):
            z = z + block(norm(z))
        return self.head(z[:, -1])


class XLSTM(TorchForecaster):
    """Alternating mLSTM / sLSTM blocks (``blocks``, default 2) of width ``d_model`` (default 32)."""

    name = "xlstm"
    default_search_space = {"d_model": [16, 64], "blocks": [1, 4], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _XLSTM(s.n_features, s.horizon, int(self.hparams.get("d_model", 32)), int(self.hparams.get("blocks", 2)))
