"""Forecasters an xApp can use: a registry model (ONNX, hot-swapped, canaried) or a built-in one.

Both answer ``predict(cells, windows, times) -> [n, horizon]`` in the units of the target
measurement and take actuals back through ``observe`` (the registry forecaster scores its
versions with them and lets the canary decide).

* :class:`HoltForecaster`: double exponential smoothing over the window (level + trend), no model
  file; the default when an app is not given a registry model.
* :class:`RegistryForecaster`: a :class:`ranml.serving.ServedModel` (the runtimes' one way of
  following a registry alias: hot swap between two calls, a canary by cell while the challenger
  alias points elsewhere, decisions written back to the registry), fed from the app's windows: it
  maps KPM measurements to the model's input features and computes the calendar features from
  the window times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ranml.errors import ConfigError
from ranml.serving import Decision, ServedModel

__all__ = ["Forecaster", "HoltForecaster", "RegistryForecaster"]

_CALENDAR = ("hour_sin", "hour_cos", "dow_sin", "dow_cos")


class Forecaster(Protocol):
    """What the apps need from a forecaster."""

    input_steps: int
    horizon: int

    @property
    def version(self) -> str:
        """The version answering (``holt`` for the built-in one)."""

    @property
    def misses(self) -> int:
        """Calls that missed their deadline (answered by the fallback)."""

    @property
    def swaps(self) -> list[dict[str, Any]]:
        """Reactions to alias moves, JSON-ready (``ok``, versions, reason)."""

    @property
    def decisions(self) -> list[Decision]:
        """Canary promote/rollback decisions so far."""

    def predict(self, cells: Sequence[str], windows: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Forecasts ``[n, horizon]`` from target windows ``[n, input_steps]`` ending at ``times``."""

    def observe(self, cells: Sequence[str], at: float, actuals: np.ndarray) -> None:
        """Actual target values of ``cells`` at ``at``."""

    def close(self) -> None:
        """Stop whatever runs in the background (alias following)."""


class HoltForecaster:
    """Level + trend smoothing over each window (vectorised over cells)."""

    def __init__(self, input_steps: int = 12, horizon: int = 4, alpha: float = 0.3, beta: float = 0.05,
                 damping: float = 0.9) -> None:
        self.input_steps, self.horizon = input_steps, horizon
        self.alpha, self.beta, self.damping = alpha, beta, damping
        self.version = "holt"
        self.misses = 0
        self.swaps: list[dict[str, Any]] = []
        self.decisions: list[Decision] = []
        self._steps = np.cumsum(damping ** np.arange(1, horizon + 1))

    def predict(self, cells: Sequence[str], windows: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Damped-trend forecasts, never negative."""
        level = windows[:, 0].astype(np.float64).copy()
        trend = np.zeros_like(level)
        for i in range(1, windows.shape[1]):
            x = windows[:, i]
            prev = level
            level = self.alpha * x + (1 - self.alpha) * (level + trend)
            trend = self.beta * (level - prev) + (1 - self.beta) * trend
        out: np.ndarray = np.maximum(level[:, None] + trend[:, None] * self._steps[None, :], 0.0)
        return out

    def observe(self, cells: Sequence[str], at: float, actuals: np.ndarray) -> None:
        """Nothing to learn online."""

    def close(self) -> None:
        """Nothing runs in the background."""


def _calendar(times: np.ndarray) -> np.ndarray:
    """hour/day-of-week sin/cos for Unix times (as the benchmark's windows compute them)."""
    hours = (times % 86400) / 3600.0
    dow = ((times // 86400 + 3) % 7) + hours / 24.0  # 1970-01-01 was a Thursday: Monday = 0
    return np.stack([np.sin(2 * np.pi * hours / 24), np.cos(2 * np.pi * hours / 24),
                     np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)], axis=-1)


class RegistryForecaster:
    """A registry model served through :class:`~ranml.serving.ServedModel` (hot swap, canary), fed from app windows.

    Parameters
    ----------
    served
        The served model (started by :meth:`start` if it is not yet).
    feature_map
        Model feature name -> position in the app's window columns (calendar features excluded).
    deadline_s
        Per-call deadline handed to the predictor (its fallback answers a missed deadline).
    """

    def __init__(self, served: ServedModel, feature_map: Mapping[str, int], deadline_s: float | None = 0.05) -> None:
        self.served = served
        self.feature_map = dict(feature_map)
        self.deadline_s = deadline_s
        self.input_steps = self.horizon = 0
        self.step_seconds = 0.0
        self._buf: np.ndarray | None = None

    def start(self) -> RegistryForecaster:
        """Start serving (champion, challenger, alias following); check the model's features are mapped.

        Raises
        ------
        ConfigError
            The model needs a feature the app's ``feature_map`` does not provide.
        """
        served = self.served if self.served.started else self.served.start()
        m = served.manifest
        unknown = [f for f in m.feature_names if f not in _CALENDAR and f not in self.feature_map]
        if unknown:
            served.close()
            raise ConfigError(f"model {served.model.name} {served.version} needs features {unknown}; map them to KPM "
                              f"measurements in the app config (feature_map)")
        self.input_steps, self.horizon, self.step_seconds = m.input_steps, m.horizon, m.step_seconds
        return self

    def close(self) -> None:
        """Stop following aliases."""
        self.served.close()

    @property
    def version(self) -> str:
        """The champion version in use."""
        return self.served.version

    @property
    def misses(self) -> int:
        """Deadline misses so far."""
        return self.served.misses

    @property
    def swaps(self) -> list[dict[str, Any]]:
        """Reactions to alias moves (JSON-ready)."""
        return [s.as_dict() for s in self.served.swaps]

    @property
    def decisions(self) -> list[Decision]:
        """Canary decisions so far."""
        return self.served.decisions

    # -- hot path -----------------------------------------------------------------------------
    def predict(self, cells: Sequence[str], windows: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Forecasts from app windows ``[n, input_steps, columns]`` (columns as in ``feature_map``)."""
        m = self.served.manifest
        n, steps = windows.shape[0], m.input_steps
        if self._buf is None or self._buf.shape[0] < n or self._buf.shape[1:] != (steps, len(m.feature_names)):
            self._buf = np.empty((max(n, 16), steps, len(m.feature_names)), dtype=np.float32)
        x = self._buf[:n]
        cal = None
        for j, feature in enumerate(m.feature_names):
            if feature in _CALENDAR:
                if cal is None:
                    stamps = times[:, None] - m.step_seconds * np.arange(steps - 1, -1, -1)[None, :]
                    cal = _calendar(stamps)
                x[:, :, j] = cal[:, :, _CALENDAR.index(feature)]
            else:
                x[:, :, j] = windows[:, -steps:, self.feature_map[feature]]
        return self.served.predict(list(cells), x, float(times.max()) if n else 0.0, self.deadline_s)

    def observe(self, cells: Sequence[str], at: float, actuals: np.ndarray) -> None:
        """Score pending forecasts; the canary may decide (and write the decision to the registry)."""
        self.served.observe(cells, at, actuals)
