"""Canary and shadow serving with a promote/rollback policy scored on real outcomes.

* **canary**: a fraction of cells, sticky by cell id (a hash), is answered by the challenger; the
  champion also runs on those rows so both are scored on the same cells and times (paired);
* **shadow**: both versions run on every row, only the champion's answer is used.

Errors are divided by each cell's target scale (from the manifest) before averaging, so cells with
heavy traffic do not dominate the comparison.

Every forecast is recorded in an :class:`~ranml.serving.scoring.OnlineScorer`; when actuals arrive
the policy compares the rolling errors. It promotes when the challenger's error is below the
champion's by ``margin_pct`` over at least ``min_scored`` scored forecast steps, the difference is
beyond noise (paired over the steps both versions forecast: ``confidence_z`` standard errors from
batch means) and its p99 latency fits the budget; it rolls back on an error worse by as much, and
at once on errors, non-finite outputs or a latency breach. Every decision is an event with its
evidence. Without the noise test a canary on a few cells flips: errors around a cell falling
asleep or waking dwarf the rest, and which of those land in the first ``min_scored`` steps decided
(measured in ``ranml demo``: a version 6-9 % better in most runs was rolled back at -15.6 % once).
The policy looks again after every scored step, so the test is a guard against a few episodes
deciding, not a strict significance level (in a simulation with equal versions and ten error
episodes each, z = 2 was crossed at some point in about half the streams, z = 3 in one of twelve).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

import numpy as np

from ranml.config import RanmlModel
from ranml.serving.artefact import ModelManifest
from ranml.serving.runtime import Forecast, VersionMetrics
from ranml.serving.scoring import OnlineScorer

__all__ = ["CanaryController", "CanaryPolicy", "Decision", "ForecastSource", "RegistryAliases", "in_canary"]

log = logging.getLogger("ranml.serving.canary")


class ForecastSource(Protocol):
    """What the controller routes to: a :class:`~ranml.serving.runtime.Predictor` or a ``ModelSlot``."""

    @property
    def version(self) -> str:
        """The version answering."""

    @property
    def manifest(self) -> ModelManifest:
        """Its manifest."""

    @property
    def metrics(self) -> VersionMetrics:
        """Its call metrics."""

    def predict(self, cells: Sequence[str], windows: np.ndarray, deadline_s: float | None = None) -> Forecast:
        """Forecasts for ``cells``."""


SourceT = TypeVar("SourceT", bound=ForecastSource)


def in_canary(cell: str, fraction: float, salt: str = "") -> bool:
    """Whether ``cell`` belongs to the canary share (stable across processes and restarts)."""
    digest = hashlib.blake2b(f"{salt}:{cell}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


class CanaryPolicy(RanmlModel):
    """When to promote or roll back a challenger."""

    mode: Literal["canary", "shadow"] = "canary"
    fraction: float = 0.2
    margin_pct: float = 2.0
    min_scored: int = 200
    confidence_z: float = 2.0  # the paired difference must be this many standard errors from 0 (0: off)
    p99_budget_us: float = 10_000.0
    max_error_rate: float = 0.01
    min_calls_for_latency: int = 50


@dataclass(frozen=True)
class Decision:
    """A policy decision with the numbers behind it."""

    action: Literal["promote", "rollback", "wait"]
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


class CanaryController(Generic[SourceT]):
    """Route calls between a champion and a challenger, score them, decide.

    Parameters
    ----------
    champion, challenger
        Started predictors.
    policy
        Routing mode, share and decision thresholds.
    on_decision
        Called with every promote/rollback decision (e.g. to move registry aliases).
    """

    def __init__(self, champion: SourceT, challenger: SourceT | None, policy: CanaryPolicy | None = None,
                 on_decision: Callable[[Decision], None] | None = None, salt: str = "") -> None:
        self.champion = champion
        self.challenger: SourceT | None = challenger
        self.policy = policy or CanaryPolicy()
        self.on_decision = on_decision
        self.salt = salt
        m = champion.manifest
        self.scorer = OnlineScorer(m.horizon, float(m.step_seconds))
        self.events: list[Decision] = []

    def start_canary(self, challenger: SourceT | None) -> None:
        """Compare against ``challenger`` from now on (``None``: serve the champion alone).

        Scoring starts afresh, so the comparison covers this canary's own period: the champion's
        forecasts from before it (on every cell) would otherwise weigh in unpaired.
        """
        self.challenger = challenger
        m = self.champion.manifest
        self.scorer = OnlineScorer(m.horizon, float(m.step_seconds))

    def predict(self, cells: Sequence[str], windows: np.ndarray, issued_at: float,
                deadline_s: float | None = None) -> np.ndarray:
        """Forecasts for every row (original units), routed and recorded for scoring."""
        out = np.empty((len(cells), self.champion.manifest.horizon), dtype=np.float32)
        challenger = self.challenger
        if challenger is None:
            f = self.champion.predict(cells, windows, deadline_s)
            self._record(f.version, cells, issued_at, f.values)
            return f.values
        if self.policy.mode == "shadow":
            f = self.champion.predict(cells, windows, deadline_s)
            s = challenger.predict(cells, windows, deadline_s)
            if not (f.fallback or s.fallback):
                self._record(f.version, cells, issued_at, f.values)
                self._record(s.version, cells, issued_at, s.values)
            out[:] = f.values
        else:
            # The champion answers every row; canary rows are answered by the challenger. Both are
            # scored on the canary rows only, so the comparison is paired (same cells, same times).
            f = self.champion.predict(cells, windows, deadline_s)
            out[:] = f.values
            mask = np.array([in_canary(c, self.policy.fraction, self.salt) for c in cells], dtype=bool)
            if mask.any():
                idx = np.flatnonzero(mask)
                sub_cells = [cells[int(i)] for i in idx]
                s = challenger.predict(sub_cells, windows[idx], deadline_s)
                out[idx] = s.values
                if not (f.fallback or s.fallback):
                    self._record(f.version, sub_cells, issued_at, f.values[idx])
                    self._record(s.version, sub_cells, issued_at, s.values)
        self._check_health()
        return out

    def _record(self, version: str, cells: Sequence[str], issued_at: float, values: np.ndarray) -> None:
        for cell, row in zip(cells, values, strict=True):
            self.scorer.record(version, cell, issued_at, row, self._scale(cell))

    def _scale(self, cell: str) -> float:
        """The cell's target scale from the champion's manifest, so errors are comparable across cells."""
        s = self.champion.manifest.scaler
        try:
            return float(s.scale[s.cells.index(cell)][s.target_index])
        except ValueError:
            return 1.0

    def observe(self, cells: Sequence[str], at: float, actuals: np.ndarray) -> Decision:
        """Actual values of ``cells`` at time ``at`` arrived: score, then decide."""
        for cell, value in zip(cells, actuals, strict=True):
            if np.isfinite(value):
                self.scorer.observe(cell, at, float(value))
        return self.decide()

    def _check_health(self) -> None:
        ch = self.challenger
        if ch is None:
            return
        m = ch.metrics
        bad = m.errors + m.nonfinite
        evidence = {"champion": self.champion.version, "challenger": ch.version, **m.snapshot()}
        if m.calls and bad / m.calls > self.policy.max_error_rate:
            self._act(Decision("rollback", f"challenger {ch.version}: {bad} of {m.calls} calls failed or were "
                                           f"non-finite (> {self.policy.max_error_rate:.1%})", evidence))
        elif m.calls >= self.policy.min_calls_for_latency and m.percentile(99) > self.policy.p99_budget_us:
            self._act(Decision("rollback", f"challenger {ch.version}: p99 {m.percentile(99):.0f} us over the "
                                           f"{self.policy.p99_budget_us:.0f} us budget", evidence))

    def decide(self) -> Decision:
        """Compare rolling errors; promote, roll back or wait."""
        ch = self.challenger
        if ch is None:
            return Decision("wait", "no challenger")
        self._check_health()
        if self.challenger is None:
            return self.events[-1]
        a, b = self.scorer.score(self.champion.version), self.scorer.score(ch.version)
        paired = self.scorer.paired(self.champion.version, ch.version)
        evidence = {"champion": self.champion.version, "challenger": ch.version, "champion_mae": a.mae,
                    "challenger_mae": b.mae, "champion_scored": a.scored, "challenger_scored": b.scored,
                    "paired_steps": paired.pairs, "paired_z": paired.z,
                    "challenger_p99_us": ch.metrics.percentile(99), "margin_pct": self.policy.margin_pct,
                    "confidence_z": self.policy.confidence_z}
        if min(a.scored, b.scored) < self.policy.min_scored:
            return Decision("wait", f"scored {b.scored}/{a.scored} of {self.policy.min_scored} needed", evidence)
        gain = 100.0 * (a.mae - b.mae) / a.mae if a.mae > 0 else 0.0
        evidence["gain_pct"] = gain
        need = self.policy.confidence_z
        z = paired.z
        if gain >= self.policy.margin_pct and (need <= 0 or z >= need):
            return self._act(Decision("promote", f"challenger {ch.version} scaled MAE {b.mae:.4g} is {gain:.1f}% "
                                                 f"below champion {self.champion.version}'s {a.mae:.4g} over "
                                                 f"{paired.pairs} paired scored steps (z = {z:.1f})", evidence))
        if gain <= -self.policy.margin_pct and (need <= 0 or z <= -need):
            return self._act(Decision("rollback", f"challenger {ch.version} scaled MAE {b.mae:.4g} is {-gain:.1f}% "
                                                  f"above champion {self.champion.version}'s {a.mae:.4g} over "
                                                  f"{paired.pairs} paired scored steps (z = {z:.1f})", evidence))
        if abs(gain) >= self.policy.margin_pct:
            return Decision("wait", f"difference {gain:.1f}% not yet beyond noise (z = {z:.1f}, {need:g} needed)",
                            evidence)
        return Decision("wait", f"difference {gain:.1f}% within ±{self.policy.margin_pct}%", evidence)

    def _act(self, decision: Decision) -> Decision:
        ch = self.challenger
        if ch is None:
            return decision
        loser = self.champion if decision.action == "promote" else ch
        if decision.action == "promote":
            self.champion = ch
        self.challenger = None
        self.scorer.forget(loser.version)  # out of the comparison for good: its scores would only pile up
        self.events.append(decision)
        log.info("canary decision: %s — %s", decision.action, decision.reason)
        if self.on_decision is not None:
            self.on_decision(decision)
        return decision


class RegistryAliases:
    """Carry canary decisions into a registry (use as ``CanaryController(on_decision=...)``).

    A promotion points ``champion`` at the challenger; a rollback points ``challenger`` back at the
    champion (no canary running). Both are recorded in the alias history with the decision's
    reason, so running apps subscribed to alias moves follow.
    """

    def __init__(self, registry: Any, name: str, champion: str = "champion", challenger: str = "challenger",
                 by: str = "canary") -> None:
        self.registry = registry
        self.name = name
        self.champion_alias = champion
        self.challenger_alias = challenger
        self.by = by

    def __call__(self, decision: Decision) -> None:
        """Apply one decision."""
        ev = decision.evidence
        if decision.action == "promote" and "challenger" in ev:
            self.registry.set_alias(self.name, self.champion_alias, ev["challenger"], by=self.by,
                                    reason=decision.reason)
        elif decision.action == "rollback" and "champion" in ev:
            self.registry.set_alias(self.name, self.challenger_alias, ev["champion"], by=self.by,
                                    reason=decision.reason)
