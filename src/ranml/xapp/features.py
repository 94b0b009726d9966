"""Per-cell feature store: ring buffers aligned to the reporting period.

Each cell has a ring of ``capacity`` slots; a report at time ``t`` goes to slot
``round((t - origin) / period)``. Gaps stay NaN (counted), a second report for a filled slot
overwrites it (counted as duplicate), a late report lands in its own slot if that slot is still in
the ring (counted as out of order) and is dropped (counted) when it is older. :meth:`window`
copies the last ``steps`` slots into a caller-owned array, forward-filling gaps, and allocates
nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["FeatureCounters", "FeatureStore"]


@dataclass
class FeatureCounters:
    """What the store had to deal with."""

    added: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    too_old: int = 0
    gaps: int = 0


class FeatureStore:
    """Ring buffers of ``features`` values per cell.

    Parameters
    ----------
    features
        Feature names (the column order of :meth:`window`).
    period_s
        Reporting period the slots are aligned to.
    capacity
        Slots kept per cell (at least the longest window).
    """

    def __init__(self, features: tuple[str, ...], period_s: float, capacity: int = 512) -> None:
        self.features = features
        self.period_s = period_s
        self.capacity = capacity
        self.counters = FeatureCounters()
        self._rings: dict[str, np.ndarray] = {}
        self._last: dict[str, int] = {}
        self._origin: float | None = None

    @property
    def cells(self) -> list[str]:
        """Cells seen so far."""
        return list(self._rings)

    def _slot(self, t: float) -> int:
        if self._origin is None:
            self._origin = t
        return round((t - self._origin) / self.period_s)

    def add(self, cell: str, t: float, values: np.ndarray | tuple[float | None, ...]) -> bool:
        """Store one report (values in feature order, ``None``/NaN allowed); ``False`` if dropped."""
        ring = self._rings.get(cell)
        if ring is None:
            ring = self._rings[cell] = np.full((self.capacity, len(self.features)), np.nan)
        slot = self._slot(t)
        last = self._last.get(cell)
        row = np.asarray([math.nan if v is None else v for v in values], dtype=np.float64)
        if last is None or slot > last:
            if last is not None and slot - last > 1:
                gap = min(slot - last - 1, self.capacity)
                self.counters.gaps += slot - last - 1
                for s in range(slot - gap, slot):
                    ring[s % self.capacity] = np.nan
            self._last[cell] = slot
        elif slot == last:
            self.counters.duplicates += 1
        elif last - slot >= self.capacity:
            self.counters.too_old += 1
            return False
        else:
            self.counters.out_of_order += 1
        ring[slot % self.capacity] = row
        self.counters.added += 1
        return True

    def last_time(self, cell: str) -> float | None:
        """Time of the newest slot of ``cell``."""
        last = self._last.get(cell)
        if last is None or self._origin is None:
            return None
        return self._origin + last * self.period_s

    def latest(self, cell: str) -> np.ndarray | None:
        """A view of the newest slot's values."""
        last = self._last.get(cell)
        return None if last is None else self._rings[cell][last % self.capacity]

    def ready(self, cell: str, steps: int) -> bool:
        """Whether ``cell`` has ``steps`` slots of history."""
        last = self._last.get(cell)
        return last is not None and last + 1 >= steps and steps <= self.capacity

    def window(self, cell: str, steps: int, out: np.ndarray) -> np.ndarray:
        """Copy the last ``steps`` slots (oldest first, gaps forward-filled) into ``out[steps, features]``."""
        ring = self._rings[cell]
        last = self._last[cell]
        start = (last - steps + 1) % self.capacity
        end = start + steps
        if end <= self.capacity:
            out[:] = ring[start:end]
        else:
            k = self.capacity - start
            out[:k] = ring[start:]
            out[k:] = ring[: steps - k]
        if np.isnan(out).any():  # forward-fill in place, then back-fill the head
            for j in range(out.shape[1]):
                col = out[:, j]
                for i in range(1, steps):
                    if col[i] != col[i]:
                        col[i] = col[i - 1]
                for i in range(steps - 2, -1, -1):
                    if col[i] != col[i]:
                        col[i] = col[i + 1]
        return out
