"""Scenario files for e2sim: nodes, cells, topology, traffic source, speed, duration, faults.

A scenario is YAML validated into :class:`Scenario` (unknown keys are rejected, errors name the
file, line and field). Durations and times are strings such as ``"90s"``, ``"15min"``, ``"2h"``,
``"1D"``; they are simulated time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import AfterValidator, Field, field_validator, model_validator

from ranml.config import RanmlModel, load_yaml
from ranml.errors import ConfigError

__all__ = [
    "CellSpec",
    "EnergySpec",
    "FaultSpec",
    "FaultsFile",
    "NodeSpec",
    "RmrSpec",
    "Scenario",
    "TopologySpec",
    "TrafficSpec",
    "UeSpec",
    "load_scenario",
    "seconds",
]


def seconds(text: str, what: str = "duration") -> float:
    """Seconds in a duration string (``"90s"``, ``"15min"``, ``"2h"``, ``"1D"``)."""
    try:
        value = pd.Timedelta(text).total_seconds()
    except (ValueError, TypeError):
        raise ValueError(f"{what} {text!r} is not a duration; write e.g. '90s', '15min', '2h' or '1D'") from None
    if value < 0:
        raise ValueError(f"{what} {text!r} must not be negative")
    return float(value)


def _valid_duration(text: str) -> str:
    seconds(text)
    return text


Duration = Annotated[str, AfterValidator(_valid_duration)]
"""A duration string, checked when the scenario is read."""


class CellSpec(RanmlModel):
    """One cell: name, NR cell identity, capacity and PRBs; ``trace`` picks the load series."""

    name: str = Field(min_length=1)
    nr_cell_id: int | None = Field(default=None, ge=0, lt=2**36)
    capacity_mbps: float = Field(default=300.0, gt=0)
    prbs: int = Field(default=273, gt=0, le=275)
    trace: str | None = None


class NodeSpec(RanmlModel):
    """One gNB (an E2 node); ``name`` is its RAN name (the RMR MEID)."""

    name: str = Field(min_length=1, max_length=32)
    gnb_id: int = Field(ge=0, lt=2**22)
    cells: list[CellSpec] = Field(min_length=1)


class TopologySpec(RanmlModel):
    """Shorthand for a regular layout: ``gnbs`` nodes with ``cells_per_gnb`` cells each."""

    gnbs: int = Field(default=3, ge=1, le=1024)
    cells_per_gnb: int = Field(default=3, ge=1, le=16)
    capacity_mbps: float = Field(default=300.0, gt=0)


class TrafficSpec(RanmlModel):
    """Where per-cell offered load comes from and how it maps to Mbps.

    ``synth`` runs the benchmark's synthetic generator; ``file`` replays a CSV/Parquet telemetry
    table (``cell_id``, ``timestamp``, the ``kpi`` column). Each cell's series is scaled so that its
    99th percentile is a share of the cell's capacity drawn between ``peak_low`` and ``peak_high``
    (seeded), so some cells saturate at their peak and others stay lightly loaded. Around the trace,
    load fluctuates minute to minute (users arriving and leaving): a multiplicative log-normal
    AR(1) noise with standard deviation ``noise_sigma`` and correlation time ``noise_tau``
    (seeded, so every run of a scenario sees the same fluctuations).
    """

    source: Literal["synth", "file"] = "synth"
    path: str | None = None
    kpi: str = "traffic"
    days: int = Field(default=2, ge=1, le=60)
    step: str = "15min"
    seed: int = 0
    peak_low: float = Field(default=0.55, gt=0)
    peak_high: float = Field(default=1.15, gt=0)
    noise_sigma: float = Field(default=0.15, ge=0, le=1.0)
    noise_tau: str = "3min"

    @model_validator(mode="after")
    def _check(self) -> TrafficSpec:
        if self.source == "file" and not self.path:
            raise ValueError("traffic.path is required when traffic.source is 'file'")
        if self.peak_low > self.peak_high:
            raise ValueError("traffic.peak_low must not exceed traffic.peak_high")
        seconds(self.step, "traffic.step")
        if seconds(self.noise_tau, "traffic.noise_tau") <= 0:
            raise ValueError("traffic.noise_tau must be positive")
        return self


EARTH_PRESETS: dict[str, tuple[int, float, float, float, float]] = {
    # type: (N_TRX, P_max W, P0 W, Δp, P_sleep W) per transceiver chain, Auer et al. 2011, Table 2
    "earth-macro": (6, 20.0, 130.0, 4.7, 75.0),
    "earth-rrh": (6, 20.0, 84.0, 2.8, 56.0),
    "earth-micro": (2, 6.3, 56.0, 2.6, 39.0),
    "earth-pico": (2, 0.13, 6.8, 4.0, 4.3),
}
"""The EARTH base-station power model's parameters (G. Auer et al., "How much energy is needed to run a
wireless network?", IEEE Wireless Communications 18(5), 2011, Table 2): input power
``N_TRX · (P0 + Δp · P_out)`` with ``P_out = load · P_max``, and ``N_TRX · P_sleep`` asleep."""


class EnergySpec(RanmlModel):
    """Per-cell power model: active = base + load share; sleep power; wake-up delay.

    ``preset: earth-macro`` (or ``earth-rrh``, ``earth-micro``, ``earth-pico``) takes the watts from
    the EARTH model (:data:`EARTH_PRESETS`): ``base_w = N_TRX·P0``, ``load_w = N_TRX·Δp·P_max``,
    ``sleep_w = N_TRX·P_sleep``; a waking cell draws ``base_w``. ``custom`` (the default) uses the
    watts given.
    """

    preset: Literal["custom", "earth-macro", "earth-rrh", "earth-micro", "earth-pico"] = "custom"
    base_w: float = Field(default=260.0, ge=0)
    load_w: float = Field(default=440.0, ge=0)
    sleep_w: float = Field(default=35.0, ge=0)
    wake_delay: Duration = "60s"
    offload: Literal["neighbours", "co-sited"] = Field(
        default="neighbours", description="where a sleeping cell's load goes: every awake neighbour by headroom, "
                                          "or only the awake cells of the same gNB (its coverage layer)")
    offload_efficiency: float = Field(default=1.0, gt=0, le=1.0,
                                      description="Mbit served per Mbit of capacity spent on offloaded load "
                                                  "(< 1: UEs served from another cell need more resources)")

    @model_validator(mode="before")
    @classmethod
    def _earth(cls, data: object) -> object:
        if not isinstance(data, dict) or data.get("preset", "custom") == "custom":
            return data
        preset = str(data["preset"])
        if preset not in EARTH_PRESETS:
            return data  # the Literal check names the valid presets
        given = sorted(k for k in ("base_w", "load_w", "sleep_w") if k in data)
        if given:
            raise ValueError(f"preset {preset} sets the watts; drop {given} or use preset: custom")
        n, p_max, p0, delta_p, p_sleep = EARTH_PRESETS[preset]
        return {**data, "base_w": n * p0, "load_w": n * delta_p * p_max, "sleep_w": n * p_sleep}


class UeSpec(RanmlModel):
    """UE model: load per connected UE, admission threshold, how long steered load stays steered."""

    mbps_per_ue: float = Field(default=4.0, gt=0)
    admission: float = Field(default=0.95, gt=0, le=1.5)
    steer_decay: Duration = "15min"
    ul_ratio: float = Field(default=0.15, ge=0, le=2)


class RmrSpec(RanmlModel):
    """RMR side: the data port e2sim listens on and an optional static route table."""

    port: int = Field(default=38000, ge=0, le=65535)
    name: str | None = None
    routes: str | None = None
    routes_file: str | None = None


FaultKind = Literal["delay", "drop", "duplicate", "corrupt", "disconnect", "restart"]


class FaultSpec(RanmlModel):
    """A fault from ``at`` (simulated time after the start) for ``duration``.

    ``delay`` adds ``delay_ms`` ± ``jitter_ms`` (real time) to outgoing messages; ``drop``,
    ``duplicate`` and ``corrupt`` hit ``percent`` of outgoing messages (``corrupt`` flips
    ``corrupt_bytes`` payload bytes); ``disconnect`` closes every RMR connection and drops traffic
    for the duration; ``restart`` takes ``node`` (default: all) down and brings it back with a new
    E2 Setup and no subscriptions, as a real node does.
    """

    at: Duration
    kind: FaultKind
    duration: Duration = "30s"
    node: str | None = None
    percent: float = Field(default=100.0, ge=0, le=100)
    delay_ms: float = Field(default=0.0, ge=0)
    jitter_ms: float = Field(default=0.0, ge=0)
    corrupt_bytes: int = Field(default=4, ge=1)



class FaultsFile(RanmlModel):
    """A file holding only ``faults:`` (included by a scenario's ``faults_file``)."""

    faults: list[FaultSpec] = Field(default_factory=list)


class Scenario(RanmlModel):
    """A complete e2sim scenario (see ``examples/scenarios/*.yaml``)."""

    name: str = "scenario"
    plmn: str = Field(default="00101", pattern=r"^\d{5,6}$")
    start: str = "2026-03-02T00:00:00"
    speed: float = Field(default=600.0, gt=0)
    duration: str = "1D"
    tick: str = "1s"
    rmr: RmrSpec = Field(default_factory=RmrSpec)
    state_port: int | None = Field(default=None, ge=0, le=65535)
    topology: TopologySpec | None = None
    nodes: list[NodeSpec] = Field(default_factory=list)
    neighbours: Literal["auto"] | list[tuple[str, str]] = "auto"
    traffic: TrafficSpec = Field(default_factory=TrafficSpec)
    energy: EnergySpec = Field(default_factory=EnergySpec)
    ues: UeSpec = Field(default_factory=UeSpec)
    kpm_version: Literal[2, 3] = 3
    faults: list[FaultSpec] = Field(default_factory=list)
    faults_file: str | None = None

    @field_validator("duration", "tick")
    @classmethod
    def _duration(cls, v: str) -> str:
        if seconds(v) <= 0:
            raise ValueError(f"{v!r} must be positive")
        return v

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        try:
            pd.Timestamp(v)
        except ValueError:
            raise ValueError(f"start {v!r} is not a timestamp; write e.g. '2026-03-02T00:00:00'") from None
        return v

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if self.topology is not None and self.nodes:
            raise ValueError("give either topology (a regular layout) or nodes (explicit), not both")
        nodes = self.all_nodes()
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"node names must be unique: {names}")
        cells = [c.name for n in nodes for c in n.cells]
        if len(set(cells)) != len(cells):
            raise ValueError(f"cell names must be unique across nodes: {cells}")
        if self.neighbours != "auto":
            known = set(cells)
            for a, b in self.neighbours:
                if a not in known or b not in known:
                    raise ValueError(f"neighbours: unknown cell in ({a}, {b}); cells are {cells}")
        for f in self.faults:
            if f.node is not None and f.node not in names:
                raise ValueError(f"faults: unknown node {f.node!r}; nodes are {names}")
        return self

    def all_nodes(self) -> list[NodeSpec]:
        """The explicit nodes, or those the topology shorthand describes (default 3 × 3)."""
        if self.nodes:
            return list(self.nodes)
        topo = self.topology or TopologySpec()
        return [NodeSpec(name=f"gnb_{g + 1:03d}", gnb_id=g + 1,
                         cells=[CellSpec(name=f"gnb_{g + 1:03d}_c{c + 1}", capacity_mbps=topo.capacity_mbps)
                                for c in range(topo.cells_per_gnb)])
                for g in range(topo.gnbs)]


def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario YAML (its ``faults_file`` and a relative ``traffic.path`` are relative to its folder)."""
    path = Path(path)
    scenario = load_yaml(path, Scenario)
    traffic = scenario.traffic
    if traffic.source == "file" and traffic.path and not Path(traffic.path).is_absolute():
        local = path.parent / traffic.path
        if local.exists() or not Path(traffic.path).exists():
            scenario = scenario.model_copy(update={"traffic": traffic.model_copy(update={"path": str(local)})})
    if scenario.faults_file:
        extra = load_yaml(path.parent / scenario.faults_file, FaultsFile)
        names = [n.name for n in scenario.all_nodes()]
        for f in extra.faults:
            if f.node is not None and f.node not in names:
                raise ConfigError(f"{scenario.faults_file}: faults: unknown node {f.node!r}; nodes are {names}")
        scenario = scenario.model_copy(update={"faults": [*scenario.faults, *extra.faults]})
    return scenario
