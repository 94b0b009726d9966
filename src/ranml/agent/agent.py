"""The model update agent: decides, per site, when a new version goes there, and makes it so.

Per site it follows the registry alias ``site/<name>`` (the version the site runs). A newer
version in the registry (or the ``challenger`` alias, where a retrain put its result) is the
site's candidate; the :mod:`policy <ranml.agent.policies>` decides whether to move now. Moving
sets the site alias (with who/why in the alias history) and, when the site runs on Kubernetes,
sets the Deployment's model version through :class:`~ranml.deploy.kube.KubeRollout` and watches
the rollout (rolling the alias back when it fails). Live forecast residuals feed a drift
detector per site; on drift the agent calls the retrain hook (a benchmark job on the runner's
backend, local or Dask: :func:`benchmark_retrain`) and registers its result as ``challenger``,
which the serving layer canaries and promotes or rolls back on scored error.

Every decision is logged and kept in :attr:`UpdateAgent.decisions` with its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ranml.agent.drift import DriftMonitor
from ranml.agent.policies import DriftPolicy, SiteStatus, UpdatePolicy
from ranml.errors import DeployError, RanmlError

__all__ = ["Decision", "UpdateAgent", "benchmark_retrain"]

log = logging.getLogger("ranml.agent")

RetrainHook = Callable[[str], str | None]  # site -> registered version (or None)


def _semver(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


@dataclass
class Decision:
    """One decision of the agent."""

    site: str
    update: bool
    reason: str
    current: str | None
    candidate: str | None
    at: float = field(default_factory=time.time)
    applied: bool = False


class UpdateAgent:
    """Decide and apply model updates for a set of sites.

    Parameters
    ----------
    registry
        A ``ranml.serving`` registry (local folder or Redis).
    model
        The registry model name the sites run.
    policy
        An :class:`~ranml.agent.policies.UpdatePolicy`.
    drift
        Drift monitor fed by :meth:`observe` (the drift policy needs one).
    retrain
        Called with the site name when drift is detected; returns the version it registered.
    kube, deployments
        Optional Kubernetes actions: ``deployments`` maps a site to its Deployment name.
    """

    def __init__(self, registry: Any, model: str, policy: UpdatePolicy, drift: DriftMonitor | None = None,
                 retrain: RetrainHook | None = None, kube: Any = None, deployments: dict[str, str] | None = None,
                 by: str = "ranml-agent", rollout_timeout_s: float = 300.0) -> None:
        if isinstance(policy, DriftPolicy) and drift is None:
            raise DeployError("the drift policy needs a DriftMonitor (drift=DriftMonitor('adwin'))")
        self.registry, self.model, self.policy = registry, model, policy
        self.drift, self.retrain, self.kube = drift, retrain, kube
        self.deployments = dict(deployments or {})
        self.by, self.rollout_timeout_s = by, rollout_timeout_s
        self.decisions: list[Decision] = []
        self._drifted: set[str] = set()

    def alias(self, site: str) -> str:
        """The registry alias of a site."""
        return f"site/{site}"

    def current(self, site: str) -> str | None:
        """The version the site runs (``None`` before its first deployment)."""
        return self.registry.aliases(self.model).get(self.alias(site))

    def candidate(self, site: str) -> str | None:
        """The version the site would move to: the challenger if it is newer, else the newest version."""
        current = self.current(site)
        versions = sorted(self.registry.versions(self.model), key=_semver)
        challenger = self.registry.aliases(self.model).get("challenger")
        newest = versions[-1] if versions else None
        best = challenger if challenger and (newest is None or _semver(challenger) >= _semver(newest)) else newest
        if best is None or (current is not None and _semver(best) <= _semver(current)):
            return None
        return best

    def observe(self, site: str, residual: float) -> bool:
        """Feed a live forecast residual of ``site``; on drift, trigger the retrain hook. Returns drift."""
        if self.drift is None or not self.drift.update(site, residual):
            return False
        self._drifted.add(site)
        log.info("%s: drift detected in forecast residuals", site)
        if self.retrain is not None:
            try:
                version = self.retrain(site)
            except RanmlError as exc:
                log.warning("%s: retraining failed: %s", site, exc)
                return True
            if version:
                self.registry.set_alias(self.model, "challenger", version, by=self.by,
                                        reason=f"retrained after drift at {site}")
                log.info("%s: retrained %s registered as challenger", site, version)
        return True

    def step(self, site: str, load: float) -> Decision:
        """Decide for ``site`` now (its load 0..1) and apply an update when the policy says so."""
        status = SiteStatus(site, load, self.current(site), self.candidate(site), site in self._drifted)
        update, reason = self.policy.should_update(status)
        decision = Decision(site, update, reason, status.current, status.candidate)
        if update and status.candidate is not None:
            decision.applied = self._apply(site, status.current, status.candidate, reason)
        log.info("%s: %s (%s)", site, f"update {status.current} -> {status.candidate}" if update else "keep", reason)
        self.decisions.append(decision)
        return decision

    def _apply(self, site: str, current: str | None, version: str, reason: str) -> bool:
        self.registry.set_alias(self.model, self.alias(site), version, by=self.by, reason=f"{self.policy.name}: "
                                f"{reason}")
        deployment = self.deployments.get(site)
        if self.kube is not None and deployment is not None:
            try:
                self.kube.set_model_version(deployment, version, f"{self.policy.name}: {reason}")
                self.kube.wait_rollout(deployment, timeout_s=self.rollout_timeout_s)
            except DeployError as exc:
                log.warning("%s: rollout of %s failed (%s); rolling back", site, version, exc)
                if current is not None:
                    self.registry.set_alias(self.model, self.alias(site), current, by=self.by,
                                            reason=f"rollout failed: {exc}")
                    try:
                        self.kube.rollback(deployment, f"rollout of {version} failed")
                    except DeployError as again:
                        log.warning("%s: rollback failed too: %s", site, again)
                return False
        self._drifted.discard(site)
        if self.drift is not None:
            self.drift.reset(site)
        return True


def benchmark_retrain(config: Path, registry: Any, name: str, model: str, out_root: Path,
                      backend: str = "local", workers: int = 1) -> RetrainHook:
    """A retrain hook: run the benchmark config (fresh data) on ``backend``, export ``model``, register it.

    The config's data source should point at the recent telemetry of the drifted site; the new
    version is registered under ``name`` (the caller sets the ``challenger`` alias).
    """

    def retrain(site: str) -> str | None:
        from ranml.benchmark import load_benchmark_config, run_benchmark
        from ranml.export import export_from_run

        out = out_root / f"retrain-{site}-{int(time.time())}"
        run_benchmark(load_benchmark_config(config), out, backend=backend, workers=workers)
        result = export_from_run(out, model, "onnx", name=name)
        record = registry.register(name, result.files, result.manifest.model_dump(mode="json"),
                                   note=f"retrained after drift at {site}")
        return str(record.version)

    return retrain
