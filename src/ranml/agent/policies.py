"""When to update a site's model: always, never, at random, when the site is idle, or on drift.

A policy sees a :class:`SiteStatus` (the site's load now, the version it runs, the newest version
it could run, whether the drift detector fired) and answers ``(update, reason)``. The same
policy objects drive the real agent and the simulation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from ranml.errors import ConfigError

__all__ = ["POLICIES", "AlwaysPolicy", "DriftPolicy", "LoadBasedPolicy", "NeverPolicy", "RandomPolicy", "SiteStatus",
           "UpdatePolicy", "make_policy"]


@dataclass
class SiteStatus:
    """What a policy knows about a site at decision time."""

    site: str
    load: float  # 0..1 of the site's capacity
    current: str | None
    candidate: str | None  # the newest version it could run (None: nothing newer)
    drift: bool = False  # the drift detector fired since the last update


class UpdatePolicy(Protocol):
    """Decide whether a site moves to its candidate version now."""

    name: str

    def should_update(self, status: SiteStatus) -> tuple[bool, str]:
        """``(update, reason)``."""


class AlwaysPolicy:
    """Update as soon as a newer version exists."""

    name = "always"

    def should_update(self, status: SiteStatus) -> tuple[bool, str]:
        """Any candidate is taken."""
        if status.candidate is None:
            return False, "no newer version"
        return True, f"newer version {status.candidate} available"


class NeverPolicy:
    """Keep the deployed version."""

    name = "never"

    def should_update(self, status: SiteStatus) -> tuple[bool, str]:
        """Never."""
        return False, "policy never updates"


class RandomPolicy:
    """Update with probability ``p`` per decision when a newer version exists."""

    name = "random"

    def __init__(self, p: float = 0.2, seed: int = 0) -> None:
        if not 0 <= p <= 1:
            raise ConfigError(f"random policy: p={p} must be within 0..1")
        self.p, self._rng = p, random.Random(seed)

    def should_update(self, status: SiteStatus) -> tuple[bool, str]:
        """A coin flip."""
        if status.candidate is None:
            return False, "no newer version"
        draw = self._rng.random()
        return (draw < self.p), f"random draw {draw:.2f} {'<' if draw < self.p else '>='} p={self.p}"


class LoadBasedPolicy:
    """Update only while the site's load is under ``threshold`` (a quiet hour)."""

    name = "load-based"

    def __init__(self, threshold: float = 0.3) -> None:
        if not 0 < threshold <= 1:
            raise ConfigError(f"load-based policy: threshold={threshold} must be within (0, 1]")
        self.threshold = threshold

    def should_update(self, status: SiteStatus) -> tuple[bool, str]:
        """Quiet site and a candidate."""
        if status.candidate is None:
            return False, "no newer version"
        if status.load >= self.threshold:
            return False, f"site busy (load {status.load:.2f} >= {self.threshold:.2f})"
        return True, f"site quiet (load {status.load:.2f} < {self.threshold:.2f}); {status.candidate} available"


class DriftPolicy:
    """Update when the drift detector on live forecast residuals fired (the agent also retrains)."""

    name = "drift"

    def should_update(self, status: SiteStatus) -> tuple[bool, str]:
        """Drift and a candidate."""
        if not status.drift:
            return False, "no drift detected"
        if status.candidate is None:
            return False, "drift detected; waiting for a retrained version"
        return True, f"drift detected; moving to {status.candidate}"


POLICIES = ("always", "never", "random", "load-based", "drift")


def make_policy(name: str, p: float = 0.2, threshold: float = 0.3, seed: int = 0) -> UpdatePolicy:
    """A policy by name (:data:`POLICIES`)."""
    if name == "always":
        return AlwaysPolicy()
    if name == "never":
        return NeverPolicy()
    if name == "random":
        return RandomPolicy(p, seed)
    if name == "load-based":
        return LoadBasedPolicy(threshold)
    if name == "drift":
        return DriftPolicy()
    raise ConfigError(f"unknown update policy {name!r}; use one of {', '.join(POLICIES)}")
