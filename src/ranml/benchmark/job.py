"""One benchmark job: (dataset, horizon, model) → trained model, metrics, KPIs, job folder.

A job is a plain, picklable :class:`JobSpec`; :func:`run_job` runs it in whatever process the
backend chose and returns the leaderboard record. Results are written to a temporary folder and
renamed into place, so an interrupted job never leaves a half-written folder behind. A model that
fails is recorded with its error; the exception does not escape.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ranml.benchmark.allocator import keep_freed_memory
from ranml.benchmark.config import DatasetConfig, EnergyConfig, KpiConfig, ModelConfig, TrainConfig
from ranml.benchmark.windows import WindowedData, make_grid_windows, make_patch_windows, make_windows
from ranml.errors import DataError, RanmlError
from ranml.telemetry import TelemetryTable

__all__ = ["RECORD_FIELDS", "JobSpec", "load_dataset", "run_job", "windows_for"]

log = logging.getLogger("ranml.benchmark.job")

RECORD_FIELDS = [
    "model", "dataset", "horizon", "status", "mae", "rmse", "smape", "wape", "mase", "r2", "ssim",
    "per_step_mae", "view", "scored_on", "targets_scored", "targets_masked", "windows_dropped",
    "points_interpolated", "longest_gap_steps", "latency_p50_us", "latency_p99_us",
    "torch_latency_p50_us", "torch_latency_p99_us", "throughput_per_s", "peak_memory_mb", "params",
    "flops", "model_bytes", "serving", "train_seconds", "epochs", "best_epoch", "stopped_by", "energy_j",
    "energy_source", "inference_energy_uj", "hparams", "job_id", "error",
]
"""Leaderboard columns. ``scored_on`` fingerprints the test targets (the same for every model of a
dataset and horizon, series or grid view); ``stopped_by`` is ``epochs``, ``early_stopping``,
``time_budget`` or ``not_trainable``; ``serving`` is ``onnx``, ``torchscript`` or ``none`` (a model
that cannot go to ONNX says how it can be served, and its latencies are the torch module's)."""


@dataclass(frozen=True)
class JobSpec:
    """Everything one job needs; plain data so any backend can ship it to a worker."""

    job_id: str
    dataset: DatasetConfig
    horizon: int
    model: ModelConfig
    train: TrainConfig
    kpis: KpiConfig
    energy: EnergyConfig
    seed: int
    out_dir: str

    @staticmethod
    def make_id(dataset: DatasetConfig, horizon: int, model: ModelConfig, train: TrainConfig | None,
                kpis: KpiConfig, energy: EnergyConfig, seed: int) -> str:
        """Content hash of the job's configuration (the cache key for ``--resume``).

        ``train`` is ``None`` for models without training, so changing training settings does not
        invalidate their results.
        """
        from ranml import __version__

        payload = json.dumps(
            {"dataset": dataset.model_dump(mode="json"), "horizon": horizon,
             "model": model.model_dump(mode="json"),
             "train": train.model_dump(mode="json") if train is not None else None,
             "kpis": kpis.model_dump(mode="json"), "energy": energy.model_dump(mode="json"),
             "seed": seed, "version": __version__, "data_files": _file_fingerprints(dataset)},
            sort_keys=True,
        )
        digest = hashlib.sha256(payload.encode()).hexdigest()[:12]
        return f"{dataset.name}__h{horizon}__{model.name}__{digest}"

    @property
    def folder(self) -> Path:
        """Final folder of the job's results."""
        return Path(self.out_dir) / "jobs" / self.job_id


def _file_fingerprints(dataset: DatasetConfig) -> list[list[object]]:
    """Size and modification time of a dataset's files, so edited data invalidates ``--resume``."""
    src = dataset.source
    paths = [src.path] if src.kind == "file" else list(src.paths) if src.kind == "milan" else []
    out: list[list[object]] = []
    for p in paths:
        try:
            st = Path(p).stat()
            out.append([str(p), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([str(p), None, None])
    return out


@lru_cache(maxsize=4)
def _load_cached(dataset_json: str) -> TelemetryTable:
    return _load(DatasetConfig.model_validate_json(dataset_json))


def load_dataset(cfg: DatasetConfig) -> TelemetryTable:
    """Load (or generate) a dataset; cached per process by its configuration."""
    return _load_cached(cfg.model_dump_json())


def _load(cfg: DatasetConfig) -> TelemetryTable:
    from ranml.telemetry import SynthSpec, generate, load_milan, load_table

    src = cfg.source
    if src.kind == "synth":
        return generate(SynthSpec(cells=src.cells, days=src.days, step=src.step, seed=src.seed,
                                  start=src.start, holidays=tuple(src.holidays),
                                  business_range=src.business_range))
    if src.kind == "file":
        return load_table(src.path, src.step, src.columns, src.kpis, sort=src.sort, origin=src.origin)
    table = load_milan(src.paths)
    if src.squares:
        keep = {str(s) for s in src.squares}
        frame = table.frame[table.frame["cell_id"].isin(keep)]
        if frame.empty:
            raise DataError(f"dataset {cfg.name!r}: none of the squares {src.squares[:5]}... is in the files")
        table = TelemetryTable.from_frame(frame, table.step, source="milan")
    return table


@lru_cache(maxsize=8)
def _windows_cached(dataset_json: str, horizon: int, view: str) -> WindowedData:
    cfg = DatasetConfig.model_validate_json(dataset_json)
    spec = cfg.windows.model_copy(update={"horizon": horizon})
    table = load_dataset(cfg)
    try:
        if view == "grid":
            return make_grid_windows(table, spec)
        if view.startswith("patch"):
            return make_patch_windows(table, spec, int(view.removeprefix("patch")))
        return make_windows(table, spec)
    except DataError as exc:
        raise DataError(f"dataset {cfg.name!r}: {exc}") from None


def windows_for(cfg: DatasetConfig, horizon: int, view: str | bool) -> WindowedData:
    """Windows of a dataset for a horizon; cached per process.

    ``view`` is ``series``, ``grid`` or ``patch<K>`` (:meth:`ForecastModel.view`); ``True`` and
    ``False`` mean grid and series.
    """
    name = ("grid" if view else "series") if isinstance(view, bool) else view
    return _windows_cached(cfg.model_dump_json(), horizon, name)


def _empty_record(spec: JobSpec) -> dict[str, Any]:
    rec: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    rec.update(model=spec.model.name, dataset=spec.dataset.name, horizon=spec.horizon, job_id=spec.job_id)
    return rec


def run_job(spec: JobSpec) -> dict[str, Any]:
    """Run one job and return its leaderboard record (``status`` ``ok`` or ``failed``).

    The job folder (``config.json``, ``metrics.json``, ``checkpoint.pt``, ``model.onnx``,
    ``forecast_sample.json``) is written atomically; a failed job writes ``error.txt``.
    """
    record = _empty_record(spec)
    final = spec.folder
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(json.dumps(
        {"job_id": spec.job_id, "dataset": spec.dataset.model_dump(mode="json"),
         "horizon": spec.horizon, "model": spec.model.model_dump(mode="json"),
         "train": spec.train.model_dump(mode="json"), "kpis": spec.kpis.model_dump(mode="json"),
         "energy": spec.energy.model_dump(mode="json"), "seed": spec.seed}, indent=2))
    try:
        with keep_freed_memory(spec.train.reuse_freed_memory):
            record.update(_execute(spec, tmp))
        record["status"] = "ok"
    except Exception as exc:  # a failing model is recorded; the run goes on
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        (tmp / "error.txt").write_text(traceback.format_exc())
        if not isinstance(exc, RanmlError):
            log.warning("job %s failed: %s", spec.job_id, record["error"])
    (tmp / "metrics.json").write_text(json.dumps(record, indent=2, default=_json_default))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return record


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _execute(spec: JobSpec, folder: Path) -> dict[str, Any]:
    import torch

    from ranml.benchmark.energy import EnergyMeter
    from ranml.benchmark.kpis import count_flops, count_params, measure_onnx, measure_torch_latency
    from ranml.benchmark.metrics import accuracy, ssim
    from ranml.benchmark.models import resolve_model
    from ranml.benchmark.tuning import fit_model

    cls = resolve_model(spec.model.target)
    data = windows_for(spec.dataset, spec.horizon, cls.view(spec.model.params))
    shape = data.model_shape()
    with EnergyMeter(spec.energy.watts_per_core, spec.energy.source) as meter:
        t0 = time.perf_counter()
        model, report, hparams = fit_model(cls, shape, spec.model, spec.train, data, spec.seed)
        train_seconds = time.perf_counter() - t0
    assert meter.reading is not None
    forecast = model.predict(data.x["test"])
    actual = data.actual("test")
    predicted = data.inverse(forecast, "test")
    if not np.isfinite(predicted).all():
        raise RanmlError(f"{spec.model.name}: the forecast contains non-finite values")
    score, gaps = data.score, data.gaps
    assert score is not None and gaps is not None
    if score.scored == 0:
        raise DataError(f"dataset {spec.dataset.name!r}: every test target was interpolated, nothing to "
                        "score; lower windows.max_gap_steps or move the split")
    # Every model of the dataset is scored on the same targets (series order, observed values only).
    scored = data.scored_forecast(forecast)
    out: dict[str, Any] = accuracy(score.actual, scored, score.scale, observed=score.observed)
    if spec.dataset.grid:  # SSIM on the score rows reassembled into grids, for every view alike
        actual_grids, forecast_grids, seen = data.score_grids(scored)
        out["ssim"] = ssim(actual_grids, forecast_grids, observed=seen)
    out.update(view=data.kind, scored_on=score.fingerprint, windows_dropped=gaps.windows_dropped,
               points_interpolated=gaps.points_interpolated, longest_gap_steps=gaps.longest_gap_steps)
    module = model.torch_module()
    example = data.x["test"][:1]
    out["params"] = count_params(module)
    out["flops"] = count_flops(module, example)
    p50, p99 = measure_torch_latency(module, example, spec.kpis.latency_calls, spec.kpis.warmup,
                                     spec.kpis.threads)
    out["torch_latency_p50_us"], out["torch_latency_p99_us"] = p50, p99
    torch.save(model.state(), folder / "checkpoint.pt")
    if spec.kpis.onnx and cls.capabilities.exportable:
        from ranml.benchmark.onnx_export import export_onnx

        onnx_path = folder / "model.onnx"
        onnx_path.write_bytes(export_onnx(module, example))
        ort = measure_onnx(onnx_path, tuple(example.shape), spec.kpis.latency_calls, spec.kpis.warmup,
                           spec.kpis.threads, spec.kpis.throughput_batch)
        out.update(ort)
        out["model_bytes"] = onnx_path.stat().st_size
        out["serving"] = "onnx"
    else:
        out["latency_p50_us"], out["latency_p99_us"] = p50, p99
        out["model_bytes"] = (folder / "checkpoint.pt").stat().st_size
        out["serving"] = _serving_without_onnx(module, example, cls.capabilities.exportable)
    out["train_seconds"] = train_seconds
    out["epochs"], out["best_epoch"], out["stopped_by"] = report.epochs, report.best_epoch, report.stopped_by
    out["energy_j"] = meter.reading.joules
    out["energy_source"] = meter.reading.source
    # One inference on one busy core: the same power model as the training estimate.
    out["inference_energy_uj"] = out["latency_p50_us"] * spec.energy.watts_per_core
    out["hparams"] = hparams
    _write_sample(folder, data, actual, predicted)
    return out


def _serving_without_onnx(module: Any, example: np.ndarray, exportable: bool) -> str:
    """The serving path of a model measured without ONNX (its latencies are the torch module's).

    ``onnx`` when only the KPI setting switched the export off, ``torchscript`` when it traces, else ``none``.
    """
    if exportable:
        return "onnx"
    import warnings

    import torch

    with warnings.catch_warnings():  # torch.jit announces its deprecation
        warnings.simplefilter("ignore")
        try:
            torch.jit.trace(module, torch.from_numpy(np.ascontiguousarray(example)),  # type: ignore[no-untyped-call]
                            check_trace=False)
        except Exception:  # any tracing failure means: no TorchScript path
            return "none"
    return "torchscript"


def _write_sample(folder: Path, data: WindowedData, actual: np.ndarray, predicted: np.ndarray,
                  steps: int = 192) -> None:
    """Keep a forecast-vs-actual trace for the report: first test cell, non-overlapping windows."""
    cells = data.cell["test"]
    first = cells[0]
    idx = np.flatnonzero(cells == first)
    h = data.horizon
    idx = idx[:: max(1, h)][: max(1, steps // h)]
    a, p = actual[idx], predicted[idx]
    if data.kind == "grid":  # centre square of the grid
        r, c = a.shape[2] // 2, a.shape[3] // 2
        a, p = a[:, :, r, c], p[:, :, r, c]
    times = data.time["test"][idx]
    stamps = [data.time_label(t + np.timedelta64(k * int(data.step.value), "ns")) for t in times for k in range(h)]
    sample = {"cell": data.cells[int(first)] if data.kind == "series" else "grid-centre",
              "time": stamps, "actual": a.reshape(-1).tolist(), "forecast": p.reshape(-1).tolist()}
    (folder / "forecast_sample.json").write_text(json.dumps(sample))
