"""Autoformer (Wu et al., NeurIPS 2021): series decomposition and auto-correlation instead of attention.

* Progressive decomposition: every sub-layer's output is split by a moving average into trend and
  seasonal part; only the seasonal part flows on, trends accumulate.
* Auto-correlation: the correlation of queries and keys at every delay τ (the paper computes it with an
  FFT; here it is the same sum ``R(τ) = Σ_t q_{t+τ}·k_t`` read off ``Q Kᵀ``'s circular diagonals, which
  exports to ONNX), the ``k = ⌈c·ln L⌉`` strongest delays, and the values rolled by each delay,
  weighted by a softmax of their correlations.

The decoder of the paper is replaced by linear maps over time for the seasonal output and the trend
(the DLinear-style head), which keeps the model small; the encoder is the paper's.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._layers import MovingAverage
from ranml.benchmark.models._torch import TorchForecaster

__all__ = ["Autoformer"]


class _AutoCorrelation(nn.Module):
    def __init__(self, d_model: int, steps: int, factor: float) -> None:
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.top = max(1, min(steps, math.ceil(factor * math.log(steps))))
        t = torch.arange(steps)
        # Flat index of S[(t + τ) mod L, t] for every delay τ (rows) and time t (columns).
        self.register_buffer("diag", ((t[None, :] + t[:, None]) % steps) * steps + t[None, :])
        self.register_buffer("steps_idx", t)
        self.steps = steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        diag: torch.Tensor = self.diag  # type: ignore[assignment]
        steps_idx: torch.Tensor = self.steps_idx  # type: ignore[assignment]
        q, k, v = self.q(x), self.k(x), self.v(x)
        b, steps, d = v.shape
        scores = torch.matmul(q, k.transpose(1, 2)) / d  # [b, L, L]
        corr = scores.reshape(b, steps * steps)[:, diag.reshape(-1)].reshape(b, steps, steps).mean(dim=2)  # [b, τ]
        weights, delays = torch.topk(corr, self.top, dim=1)
        weights = torch.softmax(weights, dim=1)
        out = torch.zeros_like(v)
        for i in range(self.top):
            idx = (steps_idx[None, :] + delays[:, i : i + 1]) % steps  # roll by the delay
            rolled = torch.gather(v, 1, idx.unsqueeze(2).expand(b, steps, d))
            out = out + weights[:, i].reshape(b, 1, 1) * rolled
        return self.o(out)


class _EncoderLayer(nn.Module):
    def __init__(self, d_model: int, steps: int, kernel: int, factor: float, dropout: float) -> None:
        super().__init__()
        self.corr = _AutoCorrelation(d_model, steps, factor)
        self.ff = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))
        self.decomp = MovingAverage(kernel)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.corr(x))
        x = x - self.decomp(x)
        x = x + self.drop(self.ff(x))
        return x - self.decomp(x)


class _Autoformer(nn.Module):
    def __init__(self, n_features: int, target: int, steps: int, horizon: int, d_model: int, layers: int,
                 kernel: int, factor: float, dropout: float) -> None:
        super().__init__()
        self.target = target
        self.decomp = MovingAverage(kernel)
        self.embed = nn.Linear(n_features, d_model)
        self.layers = nn.Sequential(*[_EncoderLayer(d_model, steps, kernel, factor, dropout) for _ in range(layers)])
        self.season_out = nn.Linear(d_model, 1)
        self.season_time = nn.Linear(steps, horizon)
        self.trend_time = nn.Linear(steps, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trend = self.decomp(x)
        seasonal = self.layers(self.embed(x - trend))
        season = self.season_time(self.season_out(seasonal).squeeze(2))
        return season + self.trend_time(trend[:, :, self.target])


class Autoformer(TorchForecaster):
    """Decomposition and an auto-correlation encoder, linear maps over time as the head.

    Params: ``d_model`` (32), ``layers`` (1), ``kernel`` (moving average, 25), ``factor`` (1: ⌈ln L⌉
    delays), ``dropout`` (0.05).
    """

    name = "autoformer"
    default_search_space = {"d_model": [16, 64], "layers": [1, 2], "lr": {"low": 3e-4, "high": 5e-3, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _Autoformer(s.n_features, s.target_index, s.input_steps, s.horizon, int(self.hparams.get("d_model", 32)),
                           int(self.hparams.get("layers", 1)), int(self.hparams.get("kernel", 25)),
                           float(self.hparams.get("factor", 1.0)), float(self.hparams.get("dropout", 0.05)))
