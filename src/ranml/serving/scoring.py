"""Online scoring of forecasts against the truth that arrives later.

Forecasts are kept with their cell and target times and scored when the actual value arrives (a
few reporting periods later), per version and per horizon step, over a rolling window.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass

import numpy as np

__all__ = ["OnlineScorer", "PairedScore", "VersionScore"]


@dataclass(frozen=True)
class VersionScore:
    """Rolling error of one version."""

    version: str
    scored: int
    mae: float
    per_step_mae: list[float]


@dataclass(frozen=True)
class PairedScore:
    """How two versions compare on the forecast steps both made (same cell, target time, step).

    ``mean_diff`` is the mean of ``error(a) − error(b)`` (positive: ``b`` is better) and
    ``stderr`` its standard error from batch means (NaN below ``2 × batches`` pairs), so
    ``mean_diff / stderr`` says whether the difference is more than noise.
    """

    pairs: int
    mean_a: float
    mean_b: float
    mean_diff: float
    stderr: float

    @property
    def z(self) -> float:
        """``mean_diff / stderr`` (NaN while the standard error is unknown, ±inf when it is 0)."""
        if math.isnan(self.stderr) or self.pairs == 0:
            return float("nan")
        if self.stderr == 0:
            return 0.0 if self.mean_diff == 0 else float("inf") if self.mean_diff > 0 else float("-inf")
        return self.mean_diff / self.stderr


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
        # (version a, version b), a < b → errors of a, errors of b on each step both forecast, in
        # arrival order (two float deques: read back into arrays 4× faster than one of tuples)
        self._paired: dict[tuple[str, str], tuple[deque[float], deque[float]]] = {}

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
        by_step: dict[int, dict[str, float]] = {}
        for version, step, value, scale in entries:
            errs = self._errors.setdefault(version, [deque(maxlen=self.window) for _ in range(self.horizon)])
            err = abs(value - actual) / scale
            errs[step].append(err)
            self._scored[version] += 1
            by_step.setdefault(step, {})[version] = err
        for errors in by_step.values():
            versions = sorted(errors)
            for i, a in enumerate(versions):
                for b in versions[i + 1 :]:
                    pairs = self._paired.get((a, b))
                    if pairs is None:
                        size = self.window * self.horizon
                        pairs = self._paired[(a, b)] = (deque(maxlen=size), deque(maxlen=size))
                    pairs[0].append(errors[a])
                    pairs[1].append(errors[b])
        return len(entries)

    def paired(self, a: str, b: str, batches: int = 10) -> PairedScore:
        """Compare ``a`` and ``b`` on the steps both forecast (the last ``window × horizon`` of them).

        Consecutive pairs are correlated (overlapping horizons, one load episode spans many
        steps), so the standard error of the mean difference is taken from the spread of the
        means of ``batches`` consecutive blocks rather than from the pairs themselves.
        """
        swap = b < a
        pairs = self._paired.get((b, a) if swap else (a, b))
        if not pairs or not pairs[0]:
            nan = float("nan")
            return PairedScore(0, nan, nan, nan, nan)
        n = len(pairs[0])
        first, second = (np.fromiter(q, np.float64, n) for q in pairs)
        ea, eb = (second, first) if swap else (first, second)
        d = ea - eb
        stderr = float("nan")
        if n >= 2 * batches:
            block = n // batches
            means = d[n - block * batches :].reshape(batches, block).mean(axis=1)
            stderr = float(means.std(ddof=1) / np.sqrt(batches))
        return PairedScore(n, float(ea.mean()), float(eb.mean()), float(d.mean()), stderr)

    def forget(self, version: str) -> None:
        """Drop everything kept for ``version`` (its forecasts, errors and pairings).

        A long-running app sees a new version with every canary; without this, each would keep
        its rolling errors and pairings (up to ``window × horizon`` pairs per pair of versions).
        """
        self._errors.pop(version, None)
        self._scored.pop(version, None)
        for pair in [p for p in self._paired if version in p]:
            del self._paired[pair]
        for targets in self._pending.values():
            for key in list(targets):
                kept = [e for e in targets[key] if e[0] != version]
                if kept:
                    targets[key] = kept
                else:
                    del targets[key]

    def score(self, version: str) -> VersionScore:
        """Rolling MAE of ``version`` (NaN until something was scored)."""
        errs = self._errors.get(version)
        if not errs:
            return VersionScore(version, 0, float("nan"), [float("nan")] * self.horizon)
        per_step = [float(np.mean(e)) if e else float("nan") for e in errs]
        flat = [x for e in errs for x in e]
        return VersionScore(version, self._scored[version], float(np.mean(flat)) if flat else float("nan"), per_step)
