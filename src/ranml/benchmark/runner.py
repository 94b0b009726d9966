"""The benchmark runner: plan jobs from a config, run them on a backend, write the results.

Results folder layout::

    DIR/leaderboard.json   list of records (see ranml.benchmark.job.RECORD_FIELDS)
    DIR/leaderboard.csv    the same, flat
    DIR/selection.json     chosen model per loop class (and dataset, horizon), with reasons
    DIR/pareto.json        error/latency Pareto front per (dataset, horizon)
    DIR/report.html        plots
    DIR/run.json           config, backend, timings, and per dataset and horizon what windowing did
                           with the data ("data": gaps, windows dropped, points interpolated, test
                           targets scored and left out)
    DIR/jobs/<job_id>/     config.json, metrics.json, checkpoint.pt, model.onnx, forecast_sample.json

The whole config is checked (models resolvable, data loadable and long enough) before anything is
written. Summary files are written to a temporary name and renamed, so a run that fails leaves the
previous results as they were. ``resume=True`` reuses every job folder whose configuration hash
matches and whose status is ``ok``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ranml.benchmark.backends import make_backend
from ranml.benchmark.config import BenchmarkConfig, ModelConfig
from ranml.benchmark.job import RECORD_FIELDS, JobSpec, windows_for
from ranml.benchmark.models import ZOO, ForecastModel, ModelShape, resolve_model
from ranml.benchmark.selection import pareto_front, select
from ranml.benchmark.tuning import merge_train
from ranml.errors import BenchmarkError, ConfigError, ModelError, UnknownModelError

__all__ = ["RunResult", "expected_cost", "plan_jobs", "run_benchmark", "write_atomic"]

log = logging.getLogger("ranml.benchmark.runner")


@dataclass
class RunResult:
    """What a run produced."""

    out_dir: Path
    records: list[dict[str, Any]]
    selection: list[dict[str, Any]]
    reused: int = 0
    wall_seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)


def plan_jobs(cfg: BenchmarkConfig, out_dir: str | Path) -> list[JobSpec]:
    """Expand the config into jobs and check that each can start.

    Every model is built and run once on its windows' shape, so a constraint a model has (one
    season of input, a patch no longer than the window, a misspelt parameter) fails here, before
    any training, naming the model, the dataset and the field.

    Raises
    ------
    UnknownModelError
        A model name is not in the zoo (the valid names are listed).
    ConfigError, DataError
        A training override or a model's params are invalid for its windows, or a dataset cannot
        be loaded or windowed.
    """
    return _plan(cfg, out_dir)[0]


def _plan(cfg: BenchmarkConfig, out_dir: str | Path) -> tuple[list[JobSpec], list[dict[str, Any]]]:
    """The jobs, and per (dataset, horizon) what windowing did with the data (gaps, targets)."""
    for i, m in enumerate(cfg.models):
        if m.ref is None and m.name not in ZOO:
            raise UnknownModelError(
                f"models[{i}].name: unknown model {m.name!r}; valid names: {', '.join(sorted(ZOO))} "
                "(or set ref: 'package.module:Class' for your own model)"
            )
    classes = {m.name: resolve_model(m.target) for m in cfg.models}
    trains = {m.name: merge_train(cfg.train, m.train, f"models[{i}].train") for i, m in enumerate(cfg.models)}
    jobs = []
    data_reports: dict[tuple[str, int], dict[str, Any]] = {}
    for j, ds in enumerate(cfg.datasets):
        horizons = cfg.horizons or [ds.windows.horizon]
        for h in horizons:
            for i, m in enumerate(cfg.models):
                try:
                    view = classes[m.name].view(m.params)
                except ModelError as exc:
                    raise ConfigError(f"models[{i}] ({m.name}): {exc}") from None
                if view != "series" and not ds.grid:
                    log.info("skipping %s on %s: %s model, dataset has grid: false", m.name, ds.name, view)
                    continue
                data = windows_for(ds, h, view)  # fail fast on unusable data
                if (ds.name, h) not in data_reports and data.gaps is not None and data.score is not None:
                    data_reports[(ds.name, h)] = {"dataset": ds.name, "horizon": h, "clock": data.clock,
                                                  "scored_on": data.score.fingerprint, **data.gaps.to_dict()}
                _check_model(classes[m.name], m, i, data.model_shape(), f"datasets[{j}] ({ds.name!r}), horizon {h}")
                trainable = classes[m.name].capabilities.trainable
                job_id = JobSpec.make_id(ds, h, m, trains[m.name] if trainable else None, cfg.kpis,
                                         cfg.energy, cfg.seed)
                jobs.append(JobSpec(job_id, ds, h, m, trains[m.name], cfg.kpis, cfg.energy, cfg.seed, str(out_dir)))
    if not jobs:
        raise BenchmarkError("the config yields no job (spatial models need a dataset with grid: true)")
    return jobs, list(data_reports.values())


def _check_model(cls: type[ForecastModel], m: ModelConfig, index: int, shape: ModelShape, where: str) -> None:
    """Construct and check one model on its windows' shape; a problem becomes a ConfigError naming both."""
    try:
        cls(shape, **m.params).check()
    except ModelError as exc:
        raise ConfigError(f"models[{index}] ({m.name}) on {where}: {exc}") from None


# Relative cost of one training run per zoo model on the same windows, measured on the quick config
# (seconds on one core); bring-your-own models count as heavy.
_MODEL_COST = {"persistence": 0.1, "seasonal_naive": 0.1, "nlinear": 0.3, "dlinear": 0.3, "mlp": 0.6,
               "lstm": 3.0, "gru": 5.0, "patchtst": 3.0, "tcn": 8.0, "convlstm": 15.0, "transformer": 30.0,
               "nhits": 0.5, "stn": 15.0, "xlstm": 20.0, "mamba": 20.0, "gbdt": 1.0,
               "autoformer": 10.0, "informer": 10.0, "histm": 30.0, "timesnet": 15.0, "predrnnpp": 40.0}


def expected_cost(job: JobSpec) -> float:
    """A rough cost guess for scheduling: model weight × epochs × search trials."""
    base = _MODEL_COST.get(job.model.target, 10.0)
    trials = (job.model.tune.trials or 10) if job.model.tune else 1
    epochs = 1 if job.model.target == "gbdt" else job.train.epochs  # boosting rounds are its own
    return base * epochs * trials


def _reusable(job: JobSpec) -> dict[str, Any] | None:
    path = job.folder / "metrics.json"
    try:
        rec: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec if rec.get("status") == "ok" and rec.get("job_id") == job.job_id else None


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _csv_text(records: list[dict[str, Any]]) -> str:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=RECORD_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for r in records:
        writer.writerow({k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in r.items()})
    return buf.getvalue()


def run_benchmark(
    cfg: BenchmarkConfig,
    out_dir: str | Path,
    backend: str = "local",
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    on_planned: Callable[[int, int], None] | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
    config_path: str | None = None,
) -> RunResult:
    """Run a benchmark and write the results folder.

    Parameters
    ----------
    cfg
        The validated configuration.
    out_dir
        Results folder (created if needed).
    backend, workers, scheduler
        Where the jobs run (see :mod:`ranml.benchmark.backends`).
    resume
        Reuse finished jobs with the same configuration hash.
    on_planned
        Called once with ``(jobs to run, jobs reused)``.
    on_done
        Called with each record as its job finishes.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    runner = make_backend(backend, workers, scheduler)
    jobs, data_reports = _plan(cfg, out.resolve())
    for d in data_reports:
        if d["windows_dropped"] or d["points_interpolated"]:
            log.warning("%s/h%d: %d windows dropped around gaps (longest %d steps, cell %s), %d points "
                        "interpolated, %d test targets not scored", d["dataset"], d["horizon"], d["windows_dropped"],
                        d["longest_gap_steps"], d["longest_gap_cell"], d["points_interpolated"],
                        d["test_targets_masked"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "jobs").mkdir(exist_ok=True)
    reused: dict[str, dict[str, Any]] = {}
    if resume:
        for job in jobs:
            rec = _reusable(job)
            if rec is not None:
                reused[job.job_id] = rec
    # Longest jobs first (a static cost guess), so a pool does not end with one worker busy on a
    # long job while the others idle; records are still returned in job order.
    pending = sorted((j for j in jobs if j.job_id not in reused), key=expected_cost, reverse=True)
    if on_planned:
        on_planned(len(pending), len(reused))
    log.info("running %d jobs on %s (%d reused)", len(pending), runner.name, len(reused))
    fresh = runner.run(pending, on_done or (lambda _r: None)) if pending else []
    by_id = {**reused, **{r["job_id"]: r for r in fresh}}
    records = [by_id[j.job_id] for j in jobs]
    selection = select(records, cfg.selection)
    fronts = {}
    for ds in cfg.datasets:
        for h in cfg.horizons or [ds.windows.horizon]:
            group = [r for r in records if r["dataset"] == ds.name and r["horizon"] == h]
            fronts[f"{ds.name}/h{h}"] = [r["model"] for r in pareto_front(group, cfg.selection.metric)]
    wall = time.perf_counter() - start
    files = {
        "leaderboard.json": out / "leaderboard.json",
        "leaderboard.csv": out / "leaderboard.csv",
        "selection.json": out / "selection.json",
        "pareto.json": out / "pareto.json",
        "run.json": out / "run.json",
        "report.html": out / "report.html",
    }
    from ranml.benchmark.report import render_report

    report_html = render_report(cfg, records, selection, out, data_reports)
    write_atomic(files["leaderboard.json"], json.dumps(records, indent=2))
    write_atomic(files["leaderboard.csv"], _csv_text(records))
    write_atomic(files["selection.json"], json.dumps(selection, indent=2))
    write_atomic(files["pareto.json"], json.dumps(fronts, indent=2))
    write_atomic(files["run.json"], json.dumps(
        {"name": cfg.name, "config": cfg.model_dump(mode="json"), "config_path": config_path,
         "backend": runner.name, "workers": workers, "scheduler": scheduler, "jobs": len(jobs),
         "reused": len(reused), "failed": sum(r["status"] != "ok" for r in records),
         "wall_seconds": wall, "data": data_reports}, indent=2))
    write_atomic(files["report.html"], report_html)
    return RunResult(out, records, selection, len(reused), wall, files)
