"""The ``oracle`` policy's input: the true future demand per cell, read from e2sim's ground truth.

e2sim answers ``GET /future/<start epoch s>/<period s>/<steps>`` with each cell's own demand
(share of its capacity, as if every cell were awake) per period from ``start`` on. The oracle
feeds it to the same decisions the forecast feeds, so that the distance between the forecast
policy and the best any forecaster could do is measured. It is for evaluation against e2sim
only: a real RAN has no such endpoint.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request

import numpy as np

__all__ = ["OracleSource"]

log = logging.getLogger("ranml.xapp.oracle")


class OracleSource:
    """Cached reads of e2sim's ``/future`` endpoint, one per reporting period.

    Parameters
    ----------
    url
        e2sim's ground-truth base URL (``http://127.0.0.1:8090``).
    period_s, steps
        The reporting period and how many periods ahead to read.
    """

    def __init__(self, url: str, period_s: float, steps: int) -> None:
        self.url = url.rstrip("/")
        self.period_s, self.steps = period_s, steps
        self._cache: dict[float, dict[str, np.ndarray]] = {}
        self.failures = 0

    def _read(self, start: float) -> dict[str, np.ndarray]:
        target = f"{self.url}/future/{start:.3f}/{self.period_s:g}/{self.steps}"
        try:
            with urllib.request.urlopen(target, timeout=5) as r:
                body = json.loads(r.read().decode())
        except (OSError, ValueError, urllib.error.URLError) as exc:
            self.failures += 1
            log.warning("oracle read %s failed: %s", target, exc)
            return {}
        return {k: np.asarray(v, dtype=np.float64) for k, v in body.get("cells", {}).items()}

    async def prefetch(self, start: float) -> None:
        """Read the future from ``start`` (off the event loop) unless it is cached."""
        if start not in self._cache:
            self._store(start, await asyncio.to_thread(self._read, start))

    def _store(self, start: float, value: dict[str, np.ndarray]) -> None:
        self._cache[start] = value
        while len(self._cache) > 4:
            self._cache.pop(next(iter(self._cache)))

    def get(self, key: str, start: float) -> np.ndarray | None:
        """The true demand of ``key`` per period from ``start`` on (``None`` when unknown)."""
        if start not in self._cache:
            self._store(start, self._read(start))
        return self._cache[start].get(key)
