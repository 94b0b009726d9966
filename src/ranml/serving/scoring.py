"""Online scoring of forecasts against the truth that arrives later.

Forecasts are kept with their cell and target times and scored when the actual value arrives (a
few reporting periods later), per version and per horizon step, over a rolling window.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

import numpy as np

__all__ = ["OnlineScorer", "VersionScore"]


@dataclass(frozen=True)
class VersionScore:
    """Rolling error of one version."""

    version: str
    scored: int
    mae: float
    per_step_mae: list[float]


class OnlineScorer:
    """Match forecasts to actuals as they arrive.

    Parameters
    ----------
    horizon
        Forecast steps.
    step_s
        Reporting period in seconds (target time of step ``k`` is ``issued + (k + 1)·step_s``).
    window
        Scored forecast steps kept per version and horizon step for the rolling error.
    max_pending
        Forecast steps awaiting their actual per cell; the oldest are dropped beyond it.
    """

    def __init__(self, horizon: int, step_s: float, window: int = 2000, max_pending: int = 4096) -> None:
        self.horizon = horizon
        self.step_s = step_s
        self.window = window
        self.max_pending = max_pending
        # (cell) → {target_time: [(version, step, value, scale), ...]}
        self._pending: dict[str, dict[int, list[tuple[str, int, float, float]]]] = defaultdict(dict)
        self._errors: dict[str, list[deque[float]]] = {}
        self._scored: dict[str, int] = defaultdict(int)

    def _key(self, t: float) -> int:
        return round(t / self.step_s)

    def record(self, version: str, cell: str, issued_at: float, values: np.ndarray, scale: float = 1.0) -> None:
        """Keep a forecast issued at ``issued_at`` (seconds) for ``cell``: ``values[horizon]``.

        Its absolute errors will be divided by ``scale`` (e.g. the cell's typical level), so that
        versions scored on different mixes of cells stay comparable.
        """
        pending = self._pending[cell]
        base = self._key(issued_at)
        scale = scale if scale > 0 else 1.0
        for k, v in enumerate(values[: self.horizon]):
            pending.setdefault(base + k + 1, []).append((version, k, float(v), scale))
        while len(pending) > self.max_pending:
            pending.pop(min(pending))

    def observe(self, cell: str, at: float, actual: float) -> int:
        """The actual value of ``cell`` at ``at`` arrived: score every forecast for it. Returns how many."""
        pending = self._pending.get(cell)
        if not pending:
            return 0
        key = self._key(at)
        for old in [k for k in pending if k < key]:
            del pending[old]  # targets whose actual never came
        entries = pending.pop(key, [])
        for version, step, value, scale in entries:
            errs = self._errors.setdefault(version, [deque(maxlen=self.window) for _ in range(self.horizon)])
            errs[step].append(abs(value - actual) / scale)
            self._scored[version] += 1
        return len(entries)

    def score(self, version: str) -> VersionScore:
        """Rolling MAE of ``version`` (NaN until something was scored)."""
        errs = self._errors.get(version)
        if not errs:
            return VersionScore(version, 0, float("nan"), [float("nan")] * self.horizon)
        per_step = [float(np.mean(e)) if e else float("nan") for e in errs]
        flat = [x for e in errs for x in e]
        return VersionScore(version, self._scored[version], float(np.mean(flat)) if flat else float("nan"), per_step)
