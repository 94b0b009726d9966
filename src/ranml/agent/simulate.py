"""Simulation of the update policies: N sites × D days, a model repository, site load and drift.

Every step (``step_h`` hours) each site runs one model version. A version's forecast error is the
base error times its accumulated accuracy factor, with noise scaled by its stability factor;
its service time (model latency) likewise. The repository releases versions of the kinds
operators see (``major``: +2 % accuracy, −2 % stability, −7 % service time; ``minor``: +0.1 %
accuracy, −0.1 % stability, by default). Drift events raise the error of models trained before
the drift began (repository versions released after it recover half of it, a version retrained
for the site all of it). Sites follow a diurnal load.

The same policy objects as the real agent decide per site and step (the drift policy with a
river detector on the site's residuals, and a retrain that yields a site version after
``retrain_delay_h``). Per policy: mean forecast error, SLA violations (steps whose error or service
time breaks the SLA, plus updates made while the site was busy), updates and downtime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ranml.agent.drift import DriftMonitor
from ranml.agent.policies import POLICIES, SiteStatus, make_policy
from ranml.config import RanmlModel, load_yaml

__all__ = ["AgentSimConfig", "load_sim_config", "simulate", "write_report"]


class VersionKind(RanmlModel):
    """Relative change a version brings (fractions: 0.02 = 2 %)."""

    accuracy: float = 0.0
    stability: float = 0.0
    service_time: float = 0.0


class Release(RanmlModel):
    """A version released at a day."""

    day: float = Field(ge=0)
    kind: str


class DriftSpec(RanmlModel):
    """Drift events per site."""

    events_per_site: float = Field(default=1.0, ge=0)
    magnitude: float = Field(default=0.4, ge=0, description="error increase while drifted (0.4 = +40 %)")
    min_days: float = Field(default=2.0, gt=0)
    max_days: float = Field(default=6.0, gt=0)


class AgentSimConfig(RanmlModel):
    """``ranml agent simulate`` configuration (errors name the field, file and line)."""

    name: str = "agent-sim"
    seed: int = 1
    sites: int = Field(default=20, ge=1, le=10_000)
    days: float = Field(default=30.0, gt=0, le=3650)
    step_h: float = Field(default=1.0, gt=0, le=24)
    base_error: float = Field(default=0.10, gt=0)
    error_noise: float = Field(default=0.15, ge=0, description="relative noise of the error per step")
    sla_error: float = Field(default=0.14, gt=0)
    base_service_ms: float = Field(default=8.0, gt=0)
    sla_service_ms: float = Field(default=10.0, gt=0)
    update_downtime_s: float = Field(default=30.0, ge=0)
    busy_load: float = Field(default=0.6, gt=0, le=1)
    retrain_delay_h: float = Field(default=6.0, ge=0)
    kinds: dict[str, VersionKind] = Field(default_factory=lambda: {
        "major": VersionKind(accuracy=0.02, stability=-0.02, service_time=-0.07),
        "minor": VersionKind(accuracy=0.001, stability=-0.001)})
    releases: list[Release] = Field(default_factory=list)
    major_every_days: float | None = Field(default=10.0, gt=0)
    release_hour: float = Field(default=14.0, ge=0, lt=24, description="hour of day generated releases land")
    minor_every_days: float | None = Field(default=2.0, gt=0)
    drift: DriftSpec = DriftSpec()
    detector: Literal["adwin", "page-hinkley"] = "adwin"
    detector_delta: float = Field(default=0.002, gt=0)
    policies: list[str] = Field(default_factory=lambda: list(POLICIES))
    random_p: float = Field(default=0.2, ge=0, le=1)
    load_threshold: float = Field(default=0.3, gt=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> AgentSimConfig:
        unknown = [p for p in self.policies if p not in POLICIES]
        if unknown:
            raise ValueError(f"policies: unknown {unknown}; use {', '.join(POLICIES)}")
        bad = [r.kind for r in self.releases if r.kind not in self.kinds]
        if bad:
            raise ValueError(f"releases: kind(s) {bad} not in kinds ({', '.join(self.kinds)})")
        if self.drift.max_days < self.drift.min_days:
            raise ValueError("drift.max_days must be at least drift.min_days")
        return self


def load_sim_config(path: str | Path) -> AgentSimConfig:
    """Load and validate a simulation YAML."""
    return load_yaml(path, AgentSimConfig)


@dataclass
class _Version:
    name: str
    released: float  # hours
    error_factor: float
    noise_factor: float
    service_factor: float
    site: str | None = None  # a site's retrained version


def _repository(cfg: AgentSimConfig) -> list[_Version]:
    releases = [(r.day, r.kind) for r in cfg.releases]
    for kind, every in (("major", cfg.major_every_days), ("minor", cfg.minor_every_days)):
        if every and kind in cfg.kinds and not cfg.releases:
            releases += [(d + cfg.release_hour / 24, kind) for d in np.arange(every, cfg.days, every)]
    releases.sort()
    versions = [_Version("1.0.0", 0.0, 1.0, 1.0, 1.0)]
    major, minor = 1, 0
    for day, kind in releases:
        k = cfg.kinds[kind]
        last = versions[-1]
        if kind == "major":
            major, minor = major + 1, 0
        else:
            minor += 1
        versions.append(_Version(f"{major}.{minor}.0", day * 24.0, last.error_factor * (1 - k.accuracy),
                                 last.noise_factor * (1 - k.stability), last.service_factor * (1 + k.service_time)))
    return versions


@dataclass
class _Site:
    name: str
    version: _Version
    drift_windows: list[tuple[float, float]]
    retrain_ready: float | None = None
    retrained: _Version | None = None
    errors: list[float] = field(default_factory=list)


def _drift_factor(site: _Site, v: _Version, t: float, magnitude: float) -> float:
    for start, end in site.drift_windows:
        if start <= t < end:
            if v.site == site.name and v.released >= start:
                return 1.0
            return 1.0 + (magnitude * 0.5 if v.released >= start else magnitude)
    return 1.0


def _run_policy(cfg: AgentSimConfig, name: str, repo: list[_Version], drifts: list[list[tuple[float, float]]],
                noise: np.ndarray, loads: np.ndarray) -> dict[str, Any]:
    policy = make_policy(name, p=cfg.random_p, threshold=cfg.load_threshold, seed=cfg.seed)
    monitor = (DriftMonitor(cfg.detector, scale=cfg.base_error * max(cfg.error_noise, 1e-3), delta=cfg.detector_delta)
               if name == "drift" else None)
    sites = [_Site(f"site-{i:03d}", repo[0], drifts[i]) for i in range(cfg.sites)]
    steps = noise.shape[1]
    errors = np.zeros((cfg.sites, steps))
    violations = updates = 0
    downtime = 0.0
    for s_idx, site in enumerate(sites):
        drifted = False
        for k in range(steps):
            t = k * cfg.step_h
            v = site.version
            err = cfg.base_error * v.error_factor * _drift_factor(site, v, t, cfg.drift.magnitude)
            err *= max(0.0, 1.0 + cfg.error_noise * v.noise_factor * noise[s_idx, k])
            service = cfg.base_service_ms * v.service_factor * math.exp(0.1 * noise[s_idx, (k + 7) % steps])
            errors[s_idx, k] = err
            violations += int(err > cfg.sla_error or service > cfg.sla_service_ms)
            if monitor is not None and monitor.update(site.name, err - cfg.base_error * v.error_factor):
                drifted = True
                if site.retrain_ready is None:
                    site.retrain_ready = t + cfg.retrain_delay_h
            if site.retrain_ready is not None and t >= site.retrain_ready and site.retrained is None:
                best = max((r for r in repo if r.released <= t), key=lambda r: r.released)
                site.retrained = _Version(f"{best.name}+{site.name}", t, best.error_factor, best.noise_factor,
                                          best.service_factor, site.name)
            available = [r for r in repo if r.released <= t and r.released > v.released]
            candidate = max(available, key=lambda r: r.released) if available else None
            if site.retrained is not None and site.retrained is not v:
                candidate = site.retrained
            load = float(loads[s_idx, k])
            update, _ = policy.should_update(SiteStatus(site.name, load, v.name,
                                                        candidate.name if candidate else None, drifted))
            if update and candidate is not None:
                site.version = candidate
                updates += 1
                downtime += cfg.update_downtime_s
                violations += int(load >= cfg.busy_load)  # a restart under load interrupts service
                if candidate is site.retrained:
                    site.retrained, site.retrain_ready = None, None
                drifted = False
                if monitor is not None:
                    monitor.reset(site.name)
    per_day = max(1, round(24 / cfg.step_h))
    days = steps // per_day
    by_day = errors.mean(axis=0)[: days * per_day].reshape(days, per_day).mean(axis=1) if days else np.zeros(0)
    return {"policy": name, "mean_error": round(float(errors.mean()), 5), "sla_violations": violations,
            "updates": updates, "downtime_s": round(downtime, 1),
            "error_by_day": [round(float(x), 5) for x in by_day]}


def simulate(cfg: AgentSimConfig) -> dict[str, Any]:
    """Run every configured policy on the same sites, noise, load and drift; returns the report data."""
    rng = np.random.default_rng(cfg.seed)
    steps = round(cfg.days * 24 / cfg.step_h)
    repo = _repository(cfg)
    noise = rng.normal(size=(cfg.sites, steps))
    hours = np.arange(steps) * cfg.step_h
    phase = rng.uniform(-2, 2, size=(cfg.sites, 1))
    loads = np.clip(0.45 + 0.4 * np.sin(2 * np.pi * (hours[None, :] - 9 + phase) / 24)
                    + rng.normal(0, 0.05, size=(cfg.sites, steps)), 0, 1)
    drifts: list[list[tuple[float, float]]] = []
    for _ in range(cfg.sites):
        n = rng.poisson(cfg.drift.events_per_site)
        starts = np.sort(rng.uniform(0, cfg.days * 24, size=n))
        lengths = rng.uniform(cfg.drift.min_days * 24, cfg.drift.max_days * 24, size=n)
        drifts.append([(float(s), float(s + d)) for s, d in zip(starts, lengths, strict=True)])
    rows = [_run_policy(cfg, name, repo, drifts, noise, loads) for name in cfg.policies]
    return {"name": cfg.name, "sites": cfg.sites, "days": cfg.days, "versions": [v.name for v in repo],
            "drift_events": sum(len(d) for d in drifts), "policies": rows}


def write_report(result: dict[str, Any], out: Path) -> Path:
    """``index.html`` with the policy table and plots (error by day, updates vs violations)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ranml.plots import svg

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for row in result["policies"]:
        if row["error_by_day"]:
            ax.plot(np.arange(1, len(row["error_by_day"]) + 1), row["error_by_day"], label=row["policy"])
    ax.set_xlabel("day")
    ax.set_ylabel("mean forecast error")
    ax.legend(fontsize=8)
    ax.set_title("Forecast error per day, all sites")
    error_plot = svg(fig)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for row in result["policies"]:
        ax.scatter(row["updates"], row["sla_violations"], s=40)
        ax.annotate(row["policy"], (row["updates"], row["sla_violations"]), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    ax.set_xlabel("updates")
    ax.set_ylabel("SLA violations")
    ax.set_title("Updates vs SLA violations")
    tradeoff_plot = svg(fig)
    shown = ", ".join(result["versions"][:8]) + ("…" if len(result["versions"]) > 8 else "")
    rows = "".join(f"<tr><td>{r['policy']}</td><td>{r['mean_error']:.4f}</td><td>{r['sla_violations']}</td>"
                   f"<td>{r['updates']}</td><td>{r['downtime_s']:.0f}</td></tr>" for r in result["policies"])
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>{result['name']}: update policies</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733}}table{{border-collapse:collapse}}
td,th{{padding:.3rem .8rem;border-bottom:1px solid #dde3ea;text-align:right}}td:first-child{{text-align:left}}
.grid{{display:flex;flex-wrap:wrap;gap:1rem}}</style></head><body>
<h1>Model update policies: {result['name']}</h1>
<p>{result['sites']} sites × {result['days']:g} days, {len(result['versions'])} versions released
({shown}), {result['drift_events']} drift events.</p>
<table><tr><th>policy</th><th>mean error</th><th>SLA violations</th><th>updates</th><th>downtime s</th></tr>
{rows}</table><div class="grid"><div>{error_plot}</div><div>{tradeoff_plot}</div></div></body></html>"""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
