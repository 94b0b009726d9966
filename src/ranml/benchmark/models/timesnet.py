"""TimesNet (Wu et al., ICLR 2023): 1D series folded into 2D by their periods, 2D convolutions, fused.

A TimesBlock takes the embedded window, folds it into a ``[steps / p, p]`` image for each of its ``k``
main periods (so that intra-period and inter-period variation become the two axes), runs an Inception
block of 2D convolutions (kernels 1, 3 and 5, averaged) over each image, unfolds, and fuses the ``k``
results weighted by a softmax of each window's spectral amplitude at those periods.

Deployment variant: the paper picks the periods per batch from an FFT, which makes tensor shapes depend
on the data (no static ONNX graph). Here the periods are chosen once, at fit time, from the mean
amplitude spectrum of the training windows' target (and restored from the checkpoint); the per-window
amplitudes that weight the fusion are a fixed DFT at those frequencies (a matrix product). So the model
exports to plain ONNX and serves like the others.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import EpochCallback, FitReport, TrainSettings

__all__ = ["TimesNet", "main_periods"]


def main_periods(x: np.ndarray, target: int, k: int) -> list[int]:
    """The ``k`` periods (in steps) with the largest mean amplitude in the target of windows ``x[n, L, F]``."""
    steps = x.shape[1]
    series = x[:, :, target] - x[:, :, target].mean(axis=1, keepdims=True)
    amplitude = np.abs(np.fft.rfft(series, axis=1)).mean(axis=0)
    amplitude[0] = 0.0  # the mean is not a period
    freqs = [int(f) for f in np.argsort(amplitude)[::-1] if f > 0][: max(1, k)]
    periods = sorted({max(2, steps // f) for f in freqs}, reverse=True)
    return periods


class _Inception(nn.Module):
    def __init__(self, d: int, hidden: int) -> None:
        super().__init__()
        self.up = nn.ModuleList(nn.Conv2d(d, hidden, k, padding=k // 2) for k in (1, 3, 5))
        self.down = nn.ModuleList(nn.Conv2d(hidden, d, k, padding=k // 2) for k in (1, 3, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(torch.stack([conv(x) for conv in self.up]).mean(dim=0))
        return torch.stack([conv(h) for conv in self.down]).mean(dim=0)


class _TimesBlock(nn.Module):
    def __init__(self, d: int, hidden: int, steps: int, periods: list[int]) -> None:
        super().__init__()
        self.steps, self.periods = steps, periods
        self.conv = _Inception(d, hidden)
        t = torch.arange(steps, dtype=torch.float32)
        freqs = torch.tensor([steps / p for p in periods], dtype=torch.float32)
        angle = 2 * math.pi * freqs[:, None] * t[None, :] / steps
        self.register_buffer("cos", torch.cos(angle))  # [k, L]: a DFT at the chosen frequencies
        self.register_buffer("sin", torch.sin(angle))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cos: torch.Tensor = self.cos  # type: ignore[assignment]
        sin: torch.Tensor = self.sin  # type: ignore[assignment]
        b, steps, d = x.shape
        signal = x.mean(dim=2)  # [b, L]
        amp = torch.sqrt(torch.matmul(signal, cos.T) ** 2 + torch.matmul(signal, sin.T) ** 2 + 1e-12)  # [b, k]
        weights = torch.softmax(amp, dim=1)
        outs = []
        for p in self.periods:
            length = math.ceil(steps / p) * p
            padded = F.pad(x, (0, 0, 0, length - steps))
            image = padded.reshape(b, length // p, p, d).permute(0, 3, 1, 2)  # [b, d, rows, p]
            folded = self.conv(image).permute(0, 2, 3, 1).reshape(b, length, d)[:, :steps]
            outs.append(folded)
        fused = (torch.stack(outs, dim=2) * weights[:, None, :, None]).sum(dim=2)
        return x + fused


class _TimesNet(nn.Module):
    def __init__(self, n_features: int, steps: int, horizon: int, d: int, hidden: int, layers: int,
                 periods: list[int]) -> None:
        super().__init__()
        self.embed = nn.Linear(n_features, d)
        self.extend = nn.Linear(steps, steps + horizon)  # over time: room for the forecast
        self.blocks = nn.ModuleList(_TimesBlock(d, hidden, steps + horizon, periods) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, 1)
        self.register_buffer("periods", torch.tensor(periods, dtype=torch.long))
        self.horizon = horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.extend(self.embed(x).transpose(1, 2)).transpose(1, 2)  # [b, L + H, d]
        for block in self.blocks:
            h = self.norm(block(h))
        return self.out(h[:, -self.horizon :]).squeeze(2)


class TimesNet(TorchForecaster):
    """TimesBlocks over periods fixed at fit time.

    Params: ``d_model`` (16), ``hidden`` (Inception width, 16), ``layers`` (2), ``top_k`` (periods, 2).
    """

    name = "timesnet"
    default_search_space = {"d_model": [8, 32], "layers": [1, 3], "lr": {"low": 3e-4, "high": 5e-3, "log": True}}

    def __init__(self, shape: Any, **hparams: Any) -> None:
        super().__init__(shape, **hparams)
        self._periods: list[int] | None = None

    def _default_periods(self) -> list[int]:
        s = self.shape
        k = int(self.hparams.get("top_k", 2))
        candidates = [s.season_steps, s.season_steps // 2, max(2, s.input_steps // 4)]
        return sorted({p for p in candidates if 2 <= p <= s.input_steps + s.horizon}, reverse=True)[:k] or [2]

    def build(self) -> Any:
        """The module (with the fitted periods, or season-based ones before a fit)."""
        s = self.shape
        periods = self._periods or self._default_periods()
        return _TimesNet(s.n_features, s.input_steps, s.horizon, int(self.hparams.get("d_model", 16)),
                         int(self.hparams.get("hidden", 16)), int(self.hparams.get("layers", 2)), periods)

    def fit(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
            settings: TrainSettings, on_epoch: EpochCallback | None = None) -> FitReport:
        """Choose the periods from the training windows, then train."""
        self._periods = main_periods(x_train, self.shape.target_index, int(self.hparams.get("top_k", 2)))
        return super().fit(x_train, y_train, x_val, y_val, settings, on_epoch)

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore the periods, then the weights."""
        self._periods = [int(p) for p in state["state_dict"]["periods"].tolist()]
        self._net = None
        super().load_state(state)
