"""``ranml demo``: the whole chain on one machine, from telemetry to the network-level effect.

Telemetry, benchmark, selection, export and registry, xApps against e2sim, a canary promoted and
one rolled back.

Steps (each with a progress bar):

1. telemetry: the synthetic small city (or ``--data FILE``), 1-minute reports;
2. benchmark: the quick zoo on it (ONNX latency and accuracy), leaderboard and per-loop selection;
3. models: the xApp loop's selection exported as ``load`` v1.0.0 (``champion``), the same model
   retrained on the site's own KPM history of the day before (:func:`ranml.e2sim.history.record_history`)
   as v1.1.0, and a deliberately degraded v1.2.0 (trained on corrupted targets);
4. closed loop: e2sim with the traffic-steering and energy-saving xApps as processes over RMR,
   once per policy (none / reactive / forecast / oracle: the same decisions on e2sim's true
   future); in the forecast run ``challenger`` moves to v1.1.0 (the energy-saving xApp canaries
   it on a share of the cells and promotes it on scored forecast error) and later to v1.2.0
   (rolled back);
5. ``index.html`` and ``summary.json`` in the output folder.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ranml.errors import RanmlError

__all__ = ["DemoSettings", "run_demo"]

log = logging.getLogger("ranml.demo")

SCENARIO = """\
name: demo-city
plmn: "00101"
start: "2026-03-02T{start}:00:00"
speed: {speed}
duration: {duration}
tick: 1s
topology: {{gnbs: 3, cells_per_gnb: 3, capacity_mbps: 300}}
traffic: {{source: synth, days: 2, step: 15min, seed: 3, peak_low: 0.55, peak_high: 1.2}}
energy: {{base_w: 260, load_w: 440, sleep_w: 35, wake_delay: 5min}}
ues: {{mbps_per_ue: 4.0, admission: 0.95, steer_decay: 15min}}
"""

MODEL = "load"


@dataclass
class DemoSettings:
    """What the demo runs (``quick``: smaller zoo, fewer epochs, a shorter simulated day)."""

    out: Path = Path("demo-report")
    quick: bool = False
    data: Path | None = None
    seed: int = 7
    registry: str | None = None  # a redis:// URL, else a folder in the output

    @property
    def models(self) -> list[str]:
        """The zoo benchmarked."""
        quick = ["persistence", "dlinear", "nlinear", "mlp"]
        return quick if self.quick else [*quick, "gru", "lstm", "tcn"]

    @property
    def sim_hours(self) -> float:
        """Simulated hours per closed-loop run."""
        return 8.0 if self.quick else 24.0

    @property
    def start_hour(self) -> str:
        """Simulated start: the quick run covers the night and the morning rise (03:00-11:00)."""
        return "03" if self.quick else "00"

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return 2400.0 if self.quick else 1200.0


@dataclass
class DemoState:
    """Everything the report needs."""

    board: list[dict[str, Any]] = field(default_factory=list)
    selection: list[dict[str, Any]] = field(default_factory=list)
    chosen: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)  # version -> what it is
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # policy -> run data
    timeline: list[dict[str, Any]] = field(default_factory=list)
    alias_history: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


# -- 1. telemetry ---------------------------------------------------------------------------------
def _telemetry(s: DemoSettings, work: Path) -> Path:
    from ranml.telemetry import generate

    path = work / "telemetry.parquet"
    if s.data is not None:
        from ranml.telemetry import load_table

        table = load_table(s.data, step="1min")
    else:
        table = generate(cells=9, days=4 if s.quick else 7, step="1min", seed=s.seed)
    table.frame.to_parquet(path)
    return path


# -- 2. benchmark ---------------------------------------------------------------------------------
def _benchmark(s: DemoSettings, telemetry: Path, work: Path, progress: Any) -> tuple[Path, DemoState]:
    from ranml.benchmark import BenchmarkConfig, run_benchmark
    from ranml.config import parse_mapping

    cfg = parse_mapping(BenchmarkConfig, {
        "name": "demo", "seed": s.seed,
        "datasets": [{"name": "demo-city", "source": {"kind": "file", "path": str(telemetry), "step": "1min"},
                      "windows": {"input_steps": 12, "horizon": 4, "target": "prb_util", "features": ["active_ues"],
                                  "split": {"train": 0.7, "val": 0.1},
                                  "max_train_windows": 3000 if s.quick else 6000, "max_val_windows": 500}}],
        "models": [{"name": m} for m in s.models],
        "train": {"epochs": 4 if s.quick else 10, "batch_size": 128, "lr": 0.003, "patience": 3,
                  "max_seconds": 20 if s.quick else 60},
        "kpis": {"latency_calls": 300 if s.quick else 1000, "throughput_batch": 64},
        "selection": {"metric": "mase", "budget_fraction": 0.5,
                      "loop_classes": {"dapp": 10, "xapp": 1000, "rapp": 60000}},
    }, source="demo benchmark")
    out = work / "benchmark"
    task = progress.add_task("benchmark: training and measuring the zoo", total=len(s.models))
    run_benchmark(cfg, out, on_planned=lambda pending, reused: progress.update(task, total=pending + reused,
                                                                                completed=reused),
                  on_done=lambda rec: progress.advance(task))
    state = DemoState()
    state.board = json.loads((out / "leaderboard.json").read_text())
    state.selection = json.loads((out / "selection.json").read_text())
    return out, state


def _pick_xapp_model(state: DemoState) -> dict[str, Any]:
    """The xApp loop's selection; a trainable model when the selection is a naive baseline."""
    entry = next((e for e in state.selection if e.get("loop_class") == "xapp" and e.get("model")), None)
    trainable = [r for r in state.board if r["status"] == "ok" and r["model"] not in ("persistence", "seasonal_naive")]
    if not trainable:
        raise RanmlError("no trainable model finished in the demo benchmark; see the benchmark log")
    if entry is not None and entry["model"] not in ("persistence", "seasonal_naive"):
        return {"model": entry["model"], "why": entry.get("reason", "selected for the xApp loop")}
    best = min(trainable, key=lambda r: r["mase"])
    why = (f"the xApp selection is the naive baseline {entry['model']}; the most accurate trainable model "
           f"{best['model']} (MASE {best['mase']:.3f}) is deployed instead" if entry else
           f"no selection for the xApp loop; {best['model']} is the most accurate trainable model")
    return {"model": best["model"], "why": why}


# -- 3. models ------------------------------------------------------------------------------------
def _scenario_text(s: DemoSettings) -> str:
    return SCENARIO.format(speed=s.speed, duration=f"{s.sim_hours:g}h", start=s.start_hour)


def _windows(frame: Any) -> Any:
    """Training windows from a telemetry frame (the benchmark's window spec, more windows)."""
    from ranml.benchmark import WindowSpec, make_windows
    from ranml.telemetry import TelemetryTable

    table = TelemetryTable.from_frame(frame, "1min")
    spec = WindowSpec.model_validate({"input_steps": 12, "horizon": 4, "target": "prb_util",
                                      "features": ["active_ues"], "split": {"train": 0.7, "val": 0.1},
                                      "max_train_windows": 6000, "max_val_windows": 500,
                                      "max_test_windows": 500})
    return make_windows(table, spec)


def _train_variant(data: Any, model: str, epochs: int, degrade: bool, seed: int) -> Any:
    """The chosen model trained on ``data`` (the site's history), or on corrupted targets (degraded)."""
    from ranml.benchmark import ModelShape, TrainSettings, build_model
    from ranml.export import ExportGates, export_model

    y_train = data.y["train"]
    if degrade:  # targets shuffled across windows and mirrored: a model that looks fine and forecasts badly
        rng = np.random.default_rng(seed)
        y_train = -y_train[rng.permutation(len(y_train))]
    net = build_model(model, ModelShape(12, 4, int(data.x["train"].shape[-1]), data.target_index, 60 * 24))
    net.fit(data.x["train"], y_train, data.x["val"], data.y["val"],
            TrainSettings(epochs=epochs, lr=3e-3, patience=epochs + 1))
    return export_model(net, data, model, "onnx", ExportGates(windows=32))


def _held_out_mae(files: dict[str, bytes], manifest: Any, data: Any) -> float:
    """MAE (target units) of an exported model on the test windows of ``data``, through the serving runtime."""
    from ranml.benchmark import mae
    from ranml.serving import Predictor

    cells = data.cell["test"]
    x = data.x["test"].copy()
    kpis = data.scaler.shift.shape[1]  # scaled KPI features first; calendar features are not scaled
    x[..., :kpis] = data.scaler.inverse(x[..., :kpis], cells)
    predictor = Predictor(files["model"], manifest, "offline").start()
    forecast = predictor.predict([data.cells[int(c)] for c in cells], x.astype(np.float32))
    seen = data.observed["test"]  # interpolated targets are not scored
    return mae(data.actual("test")[seen], forecast.values[seen])


def _register(s: DemoSettings, run_dir: Path, state: DemoState, work: Path, progress: Any) -> Any:
    import pandas as pd
    import yaml

    from ranml.e2sim import Scenario, record_history
    from ranml.export import export_from_run
    from ranml.serving import open_registry

    task = progress.add_task("models: export v1.0.0, retrain v1.1.0 on the site's history, degrade v1.2.0",
                             total=3)
    registry = open_registry(s.registry or str(work / "registry"))
    model = state.chosen["model"]
    first = export_from_run(run_dir, model, "onnx", name=MODEL)
    registry.register(MODEL, first.files, first.manifest.model_dump(mode="json"), version="1.0.0",
                      by="ranml demo", note=f"benchmark selection: {model}")
    registry.set_alias(MODEL, "champion", "1.0.0", by="ranml demo", reason=state.chosen["why"])
    state.versions["1.0.0"] = f"{model} from the benchmark run"
    progress.advance(task)
    scenario = Scenario.model_validate(yaml.safe_load(_scenario_text(s)))
    site = _windows(record_history(scenario, days=1.0, granularity_s=60.0))
    better = _train_variant(site, model, epochs=12 if s.quick else 20, degrade=False, seed=s.seed)
    before, after = _held_out_mae(first.files, first.manifest, site), _held_out_mae(better.files, better.manifest, site)
    evidence = (f"held-out MAE on the site's history {after:.3f} vs v1.0.0's {before:.3f} "
                f"({100 * (after - before) / before:+.1f} %)")
    if after >= before:
        log.warning("the site-retrained %s is not better offline (%s); the canary will decide", model, evidence)
    registry.register(MODEL, better.files, better.manifest.model_dump(mode="json"), version="1.1.0",
                      by="ranml demo", note=f"{model} retrained on the site's own KPM history (the day before); "
                                            f"{evidence}")
    state.versions["1.1.0"] = f"{model} retrained on the site's KPM history of the day before: {evidence}"
    progress.advance(task)
    data = _windows(pd.read_parquet(run_dir.parent / "telemetry.parquet"))
    worse = _train_variant(data, model, epochs=3, degrade=True, seed=s.seed)
    registry.register(MODEL, worse.files, worse.manifest.model_dump(mode="json"), version="1.2.0",
                      by="ranml demo", note=f"{model} trained on corrupted targets (deliberately degraded)")
    state.versions["1.2.0"] = f"{model} trained on shuffled, mirrored targets (deliberately degraded)"
    progress.advance(task)
    return registry


# -- 4. closed loop -------------------------------------------------------------------------------
def _sample(session: Any, samples: list[dict[str, Any]]) -> float | None:
    """Record the cells' power now; returns the simulated time (``None`` if e2sim did not answer)."""
    try:
        st = session.state()
    except OSError:
        return None
    samples.append({"t": float(st["simulated_s"]), "power_w": [c["power_w"] for c in st["cells"]],
                    "sleeping": [c["sleeping"] for c in st["cells"]]})
    return float(st["simulated_s"])


def _during(registry: Any, s: DemoSettings, state: DemoState, samples: list[dict[str, Any]],
            moves: bool) -> Any:
    """The ``during`` callback of a run: sample the ground truth every 0.25 s.

    With ``moves``, also move ``challenger`` (a better version at 15 % of the run, a degraded one
    at 65 %) and record the xApp's canary decisions from the alias history. The better one is
    better by a few percent, which the canary needs a few simulated hours to tell from noise
    (measured: 1.5-2.4 h on two thirds of the cells); the degraded one is told in minutes.
    """
    plan = [(0.15, "1.1.0", "canary a better model"), (0.65, "1.2.0", "canary a degraded model")] if moves else []

    def decided_since(count: int) -> dict[str, Any] | None:
        return next((dict(h) for h in registry.history(MODEL)[count:] if h.get("by") == "xapp"), None)

    def during(session: Any) -> None:
        total = s.sim_hours * 3600.0
        step, mark, waiting = 0, 0, False
        while not session.stop.wait(0.25):
            t = _sample(session, samples)
            if t is None:
                continue
            if waiting:  # the xApp's canary decision, read back from the alias history
                d = decided_since(mark)
                if d is not None:
                    state.timeline.append({"t": t, "event": f"{d['alias']} -> {d['to']}", "by": "xapp",
                                           "reason": d.get("reason", "")})
                    waiting = False
            if step < len(plan) and t >= plan[step][0] * total:
                _, version, why = plan[step]
                mark = len(registry.history(MODEL))
                registry.set_alias(MODEL, "challenger", version, by="ranml demo", reason=why)
                state.timeline.append({"t": t, "event": f"challenger -> {version}", "by": "ranml demo"})
                step, waiting = step + 1, True

    return during


_BUCKET = re.compile(r'ranml_xapp_handler_seconds_bucket\{le="([^"]+)",xapp="[^"]+"\} ([0-9.e+]+)')


def _histogram(metrics_text: str) -> list[tuple[float, float]]:
    return [(float("inf") if le == "+Inf" else float(le), float(v)) for le, v in _BUCKET.findall(metrics_text)]


def _closed_loop(s: DemoSettings, registry: Any, state: DemoState, work: Path, progress: Any) -> None:
    from ranml.evaluation import AppRun, policy_row, run_session

    scenario = work / "scenario.yaml"
    scenario.write_text(_scenario_text(s), encoding="utf-8")
    where = str(registry.where)
    task = progress.add_task("closed loop: e2sim + traffic steering + energy saving", total=4)
    for policy in ("none", "reactive", "forecast", "oracle"):
        common: dict[str, Any] = {"policy": policy}
        if policy == "forecast":
            common.update(model=MODEL, registry=where, model_alias="champion", canary_fraction=0.67,
                          canary_min_scored=120, canary_margin_pct=1.0)
        es = AppRun("energy-saving", common)
        ts = AppRun("traffic-steering", {**common, **({"challenger_alias": "none"} if policy == "forecast" else {})})
        samples: list[dict[str, Any]] = []
        during = _during(registry, s, state, samples, moves=policy == "forecast")
        started = time.monotonic()
        result = run_session(scenario, [ts, es], work, tag=policy, during=during)
        truth = result["truth"]
        rows = {label: policy_row(policy, label, truth, app["counters"]) for label, app in result["apps"].items()}
        state.runs[policy] = {"truth_totals": truth["totals"], "e2": truth["e2"], "rows": rows, "samples": samples,
                              "cells": [c["name"] for c in truth["cells"]], "wall_s": time.monotonic() - started,
                              "histograms": {label: _histogram(app["metrics_text"])
                                             for label, app in result["apps"].items()}}
        progress.advance(task)
    state.alias_history = registry.history(MODEL)


# -- the whole demo -------------------------------------------------------------------------------
def run_demo(s: DemoSettings, progress: Any) -> dict[str, Any]:
    """Run every step; writes ``index.html`` and ``summary.json`` into ``s.out``; returns the summary."""
    from ranml.demo.report import build_summary, write_report

    s.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ranml-demo-"))
    t0 = time.monotonic()
    try:
        telemetry = _telemetry(s, work)
        run_dir, state = _benchmark(s, telemetry, work, progress)
        state.timings["benchmark_s"] = time.monotonic() - t0
        state.chosen = _pick_xapp_model(state)
        registry = _register(s, run_dir, state, work, progress)
        state.timings["models_s"] = time.monotonic() - t0 - state.timings["benchmark_s"]
        _closed_loop(s, registry, state, work, progress)
        state.timings["total_s"] = time.monotonic() - t0
        shutil.copy(run_dir / "report.html", s.out / "benchmark-report.html")
        summary = build_summary(s, state)
        (s.out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        write_report(s, state, summary, s.out / "index.html")
        return summary
    finally:
        shutil.rmtree(work, ignore_errors=True)
