"""PredRNN++ (Wang et al., ICML 2018): causal LSTMs with a spatio-temporal memory and a gradient highway.

Grid view ``x[n, L, rows, cols]`` → ``y[n, H, rows, cols]``. Each layer is a *causal LSTM*: its temporal
memory ``C`` is updated first, then the spatio-temporal memory ``M`` (which flows up the stack within a
step and from the top layer back to the bottom at the next step, the zigzag of PredRNN) is updated from
the new ``C``, in cascade. A *gradient highway unit* between the first and second layer gives gradients
a short path across many steps. The top hidden state maps to the next frame; the horizon is rolled out
by feeding each forecast frame back in. Unrolled over time with plain convolutions (ONNX-exportable).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ranml.benchmark.models._torch import TorchForecaster
from ranml.benchmark.models.base import Capabilities

__all__ = ["PredRNNpp"]


class _CausalLSTM(nn.Module):
    def __init__(self, c_in: int, hidden: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.w1 = nn.Conv2d(c_in + 2 * hidden, 3 * hidden, kernel, padding=pad)  # g, i, f from X, H, C
        self.w2 = nn.Conv2d(c_in + 2 * hidden, 3 * hidden, kernel, padding=pad)  # g', i', f' from X, C, M
        self.w3 = nn.Conv2d(hidden, hidden, kernel, padding=pad)
        self.w4 = nn.Conv2d(c_in + 2 * hidden, hidden, kernel, padding=pad)
        self.w5 = nn.Conv2d(2 * hidden, hidden, 1)

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, m: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g, i, f = torch.chunk(self.w1(torch.cat([x, h, c], dim=1)), 3, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        g2, i2, f2 = torch.chunk(self.w2(torch.cat([x, c, m], dim=1)), 3, dim=1)
        m = torch.sigmoid(f2) * torch.tanh(self.w3(m)) + torch.sigmoid(i2) * torch.tanh(g2)
        o = torch.tanh(self.w4(torch.cat([x, c, m], dim=1)))
        h = o * torch.tanh(self.w5(torch.cat([c, m], dim=1)))
        return h, c, m


class _GHU(nn.Module):
    def __init__(self, hidden: int, kernel: int) -> None:
        super().__init__()
        self.p = nn.Conv2d(2 * hidden, hidden, kernel, padding=kernel // 2)
        self.s = nn.Conv2d(2 * hidden, hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        both = torch.cat([x, z], dim=1)
        gate = torch.sigmoid(self.s(both))
        return gate * torch.tanh(self.p(both)) + (1 - gate) * z


class _PredRNNpp(nn.Module):
    def __init__(self, steps: int, horizon: int, hidden: int, layers: int, kernel: int) -> None:
        super().__init__()
        self.steps, self.horizon, self.hidden = steps, horizon, hidden
        self.cells = nn.ModuleList(_CausalLSTM(1 if k == 0 else hidden, hidden, kernel) for k in range(layers))
        self.ghu = _GHU(hidden, kernel)
        self.out = nn.Conv2d(hidden, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, rows, cols = x.shape
        zeros = x.new_zeros(b, self.hidden, rows, cols)
        h = [zeros for _ in self.cells]
        c = [zeros for _ in self.cells]
        m, z = zeros, zeros
        frame = x[:, :1]
        forecasts = []
        for t in range(self.steps + self.horizon - 1):
            frame = x[:, t : t + 1] if t < self.steps else frame
            inp = frame
            for k, cell in enumerate(self.cells):
                h[k], c[k], m = cell(inp, h[k], c[k], m)
                inp = h[k]
                if k == 0 and len(self.cells) > 1:
                    z = self.ghu(h[0], z)
                    inp = z
            if t >= self.steps - 1:  # from the last input frame on, each step forecasts the next frame
                frame = frame + self.out(inp)
                forecasts.append(frame)
        return torch.cat(forecasts, dim=1)


class PredRNNpp(TorchForecaster):
    """Stacked causal LSTMs with a gradient highway (grid view).

    Params: ``hidden`` (8), ``layers`` (2), ``kernel`` (3). Each forecast frame is the previous frame
    plus a predicted change.
    """

    name = "predrnnpp"
    capabilities = Capabilities(spatial=True, uses_features=False)
    default_search_space = {"hidden": [4, 16], "lr": {"low": 3e-4, "high": 1e-2, "log": True}}

    def build(self) -> Any:
        """The module."""
        s = self.shape
        return _PredRNNpp(s.input_steps, s.horizon, int(self.hparams.get("hidden", 8)),
                          int(self.hparams.get("layers", 2)), int(self.hparams.get("kernel", 3)))
