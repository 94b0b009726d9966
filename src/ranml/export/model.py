"""Export a trained model with parity gates: ONNX fp32/int8 and TorchScript fp32/int8.

Torch and the benchmark harness are imported inside the functions, so importing this module is
cheap. An export either returns every file and a complete manifest, or raises
:class:`~ranml.errors.ExportError` — it never writes anything itself (the registry stores the
result atomically).

Gates:

* the ONNX graph passes ``onnx.checker`` (full check);
* fp32 (ONNX or TorchScript): max absolute error vs the torch forecast on held-out windows
  ≤ ``fp32_tolerance`` (default 1e-4, scaled units);
* int8: the MAE (original units, against the actual values) may get worse than fp32's by at most
  ``int8_bound_pct`` per cent (default 2 %).

For ONNX the export also measures ONNX Runtime's graph optimisation levels and stores the graph
optimised at the fastest one (``files["model"]``; a runtime then creates its session with
optimisations off), next to the original graph (``files["original"]``, for other hardware).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ranml.errors import ExportError, ModelError, RanmlError
from ranml.serving import FORMATS, Lineage, ModelManifest, Parity, RuntimeChoice, ScalerSpec

__all__ = ["ExportGates", "ExportResult", "export_from_run", "export_model"]

log = logging.getLogger("ranml.export")

_LEVELS = ("basic", "extended", "all")


@dataclass(frozen=True)
class ExportGates:
    """Parity gate settings."""

    windows: int = 256
    fp32_tolerance: float = 1e-4
    int8_bound_pct: float = 2.0


@dataclass(frozen=True)
class ExportResult:
    """Files (role → bytes) and the manifest describing them."""

    files: dict[str, bytes]
    manifest: ModelManifest


def _session(data: bytes, level: str = "all", optimized_path: str | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.graph_optimization_level = {
        "off": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    if optimized_path:
        opts.optimized_model_filepath = optimized_path
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def _run(sess: Any, x: np.ndarray) -> np.ndarray:
    out: np.ndarray = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return out


def _p50_us(sess: Any, x1: np.ndarray, calls: int = 300) -> float:
    for _ in range(20):
        _run(sess, x1)
    lat = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter_ns()
        _run(sess, x1)
        lat[i] = time.perf_counter_ns() - t0
    return float(np.percentile(lat, 50) / 1e3)


def _run_quantizer(fp32: bytes, what: str, quantize: Any) -> bytes:
    """Run an ``onnxruntime.quantization`` function ``quantize(src_path, dst_path)`` on ``fp32`` bytes.

    The quantizers log advice through the root logger; it is raised to ERROR for the call only.
    """
    root = logging.getLogger()
    level = root.level
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(fp32)
        root.setLevel(logging.ERROR)
        try:
            quantize(str(src), str(dst))
        except Exception as exc:
            raise ExportError(f"{what} quantization failed: {type(exc).__name__}: {exc}") from exc
        finally:
            root.setLevel(level)
        return dst.read_bytes()


def _quantize_int8(fp32: bytes) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    return _run_quantizer(fp32, "int8", lambda src, dst: quantize_dynamic(src, dst, weight_type=QuantType.QInt8))


def _optimise(graph: bytes, x: np.ndarray, reference: np.ndarray, tolerance: float) -> tuple[bytes, RuntimeChoice]:
    """Measure ORT optimisation levels, keep the graph optimised at the fastest, re-check parity."""
    import onnxruntime as ort

    x1 = x[:1]
    timings = {level: _p50_us(_session(graph, level), x1) for level in _LEVELS}
    best = min(timings, key=lambda k: timings[k])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "optimised.onnx"
        _session(graph, best, str(path))
        optimised = path.read_bytes()
    off = _session(optimised, "off")
    timings["optimised_file_with_optimisations_off"] = _p50_us(off, x1)
    err = float(np.max(np.abs(_run(off, x) - reference)))
    if err > tolerance:
        raise ExportError(
            f"the ORT-optimised graph ({best}) differs from the exported one by {err:.2e} > {tolerance:g}")
    ranked = ", ".join(f"{k} {v:.1f} us" for k, v in sorted(timings.items(), key=lambda kv: kv[1]))
    reason = (f"fastest level at batch 1, 1 thread: {best} ({ranked}); the saved graph is optimised at "
              f"'{best}' and is loaded with optimisations off")
    if best == "all":
        reason += "; 'all' may include CPU-specific kernels: sites on other hardware use files['original']"
    return optimised, RuntimeChoice(ort_version=ort.__version__, optimization_level=best, optimized_file=True,
                                    reason=reason, measurements_us=timings)


def export_model(
    model: Any,
    data: Any,
    name: str,
    fmt: str = "onnx",
    gates: ExportGates | None = None,
    lineage: Lineage | None = None,
    kpis: dict[str, Any] | None = None,
    loop_class: str | None = None,
) -> ExportResult:
    """Export a trained :class:`~ranml.benchmark.models.ForecastModel` with its windows' metadata.

    Parameters
    ----------
    model
        A fitted ``ForecastModel``.
    data
        The ``WindowedData`` it was trained on (held-out windows for parity, scaler, shapes).
    name
        The model name in the registry.
    fmt
        ``onnx``, ``onnx-int8`` (dynamic or calibrated static, the faster that passes), ``onnx-auto``
        (fp32 or int8, the fastest that passes), ``torchscript`` or ``torchscript-int8``. The manifest
        records the format actually chosen.

    Raises
    ------
    ExportError
        The model is untrained, the exporter or the checker fails, or a parity gate does not pass.
    """
    from ranml.benchmark import export_onnx, predict_module

    if fmt not in (*FORMATS, "onnx-auto"):
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)} or onnx-auto")
    gates = gates or ExportGates()
    try:
        model.require_fitted()
    except ModelError as exc:
        raise ExportError(f"cannot export {name!r}: {exc}") from None
    x = np.ascontiguousarray(data.x["test"][: gates.windows])
    if len(x) == 0:
        raise ExportError("no held-out windows for the parity check")
    module = model.torch_module()
    reference = predict_module(module, x)
    actual = data.actual("test")[: len(x)]
    files: dict[str, bytes] = {}
    runtime = None
    mae_ref = float(np.mean(np.abs(data.inverse(reference, "test")[: len(x)] - actual)))
    if fmt.startswith("onnx"):
        try:
            fp32 = export_onnx(module, x[:1])
        except ModelError as exc:
            raise ExportError(str(exc)) from None
        out = _run(_session(fp32), x)
        err = float(np.max(np.abs(out - reference)))
        if err > gates.fp32_tolerance:
            raise ExportError(f"parity gate: ONNX fp32 differs from torch by {err:.2e} > {gates.fp32_tolerance:g} "
                              f"on {len(x)} held-out windows")
        parity = Parity(windows=len(x), max_abs_err=err, tolerance=gates.fp32_tolerance, mae_reference=mae_ref,
                        mae_exported=float(np.mean(np.abs(data.inverse(out, "test")[: len(x)] - actual))))
        optimised, graph, runtime, parity, fmt = _choose_onnx(fmt, fp32, out, parity, x, reference, actual, data,
                                                              gates)
        files = {"model": optimised, "original": graph}
        file_names = {"model": "model.onnx", "original": "model.original.onnx"}
    else:
        from ranml.export.torchscript import load_torchscript, to_torchscript

        blob = to_torchscript(module, x[:1], int8=fmt == "torchscript-int8")
        out = predict_module(load_torchscript(blob), x)
        err = float(np.max(np.abs(out - reference)))
        parity = Parity(windows=len(x), max_abs_err=err, tolerance=gates.fp32_tolerance, mae_reference=mae_ref,
                        mae_exported=float(np.mean(np.abs(data.inverse(out, "test")[: len(x)] - actual))))
        if fmt == "torchscript":
            if err > gates.fp32_tolerance:
                raise ExportError(
                    f"parity gate: TorchScript differs from torch by {err:.2e} > {gates.fp32_tolerance:g}")
        else:
            parity = _int8_parity(parity, data, out, actual, gates, err, base=mae_ref)
        files = {"model": blob}
        file_names = {"model": "model.pt"}
    manifest = ModelManifest(
        name=name, format=fmt, kind=data.kind, model=model.name, hparams=_jsonable(model.hparams),  # type: ignore[arg-type]
        input_shape=list(x.shape[1:]), output_shape=list(reference.shape[1:]),
        feature_names=list(data.feature_names), target=data.feature_names[0],
        step_seconds=int(data.step.total_seconds()), input_steps=int(data.input_steps), horizon=int(data.horizon),
        scaler=ScalerSpec(kind=data.scaler.kind, cells=list(data.cells), shift=data.scaler.shift.tolist(),
                          scale=data.scaler.scale.tolist(), target_index=int(data.target_index)),
        loop_class=loop_class, kpis=_jsonable(kpis or {}), lineage=lineage or Lineage(), parity=parity,
        runtime=runtime, files=file_names,
    )
    return ExportResult(files=files, manifest=manifest)


def _quantize_static(fp32: bytes, data: Any, windows: int = 128) -> bytes:
    """Static int8 (QDQ) with activation ranges calibrated on training windows."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    train = data.x["train"]
    idx = np.linspace(0, len(train) - 1, min(windows, len(train))).round().astype(int)

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._rows = iter(idx)

        def get_next(self) -> dict[str, np.ndarray] | None:
            i = next(self._rows, None)
            return None if i is None else {"x": np.ascontiguousarray(train[i : i + 1])}

    return _run_quantizer(fp32, "static int8", lambda src, dst: quantize_static(
        src, dst, _Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8))


def _choose_onnx(fmt: str, fp32: bytes, fp32_out: np.ndarray, parity: Parity, x: np.ndarray, reference: np.ndarray,
                 actual: np.ndarray, data: Any, gates: ExportGates) -> tuple[bytes, bytes, RuntimeChoice, Parity, str]:
    """Build the candidate graphs the format allows, gate them, keep the fastest.

    ``onnx``: fp32 only. ``onnx-int8``: dynamic and static (calibrated) int8, the faster that passes
    its gate. ``onnx-auto``: fp32 and both int8 variants, the fastest that passes.
    """
    candidates: list[tuple[str, bytes, np.ndarray, Parity]] = []
    notes: list[str] = []
    if fmt in ("onnx", "onnx-auto"):
        candidates.append(("fp32", fp32, fp32_out, parity))
    if fmt in ("onnx-int8", "onnx-auto"):
        assert parity.mae_exported is not None
        for kind in ("int8-dynamic", "int8-static"):
            try:
                graph = _quantize_int8(fp32) if kind == "int8-dynamic" else _quantize_static(fp32, data)
                q = _run(_session(graph), x)
                gated = _int8_parity(parity, data, q, actual, gates, float(np.max(np.abs(q - reference))),
                                     base=parity.mae_exported)
                candidates.append((kind, graph, q, gated))
            except ExportError as exc:
                notes.append(f"{kind} rejected: {exc}")
            except Exception as exc:  # ORT cannot run a quantized graph: not a candidate
                notes.append(f"{kind} rejected: {type(exc).__name__}: {exc}")
        if not any(kind.startswith("int8") for kind, *_ in candidates) and fmt == "onnx-int8":
            raise ExportError("no int8 variant passed: " + "; ".join(notes))
    speed = {kind: _p50_us(_session(graph, "all"), x[:1]) for kind, graph, _, _ in candidates}
    if "fp32" not in speed:
        speed["fp32 (reference)"] = _p50_us(_session(fp32, "all"), x[:1])
    kind, graph, graph_out, chosen_parity = min(candidates, key=lambda c: speed[c[0]])
    optimised, runtime = _optimise(graph, x, graph_out, max(gates.fp32_tolerance, 1e-5))
    fp32_speed = speed.get("fp32", speed.get("fp32 (reference)"))
    ranking = ", ".join(f"{k} {v:.1f} us" for k, v in sorted(speed.items(), key=lambda kv: kv[1]))
    reason = f"{runtime.reason}; candidates at level all: {ranking}; chose {kind}"
    if kind != "fp32" and fp32_speed:
        reason += f" ({fp32_speed / speed[kind]:.2f}x fp32's speed)"
        if speed[kind] > fp32_speed:
            reason += ": int8 is slower than fp32 for this model, prefer --format onnx or onnx-auto"
    if notes:
        reason += "; " + "; ".join(notes)
    measurements = {**runtime.measurements_us, **{f"candidate_{k}": v for k, v in speed.items()}}
    runtime = runtime.model_copy(update={"reason": reason, "measurements_us": measurements})
    return optimised, graph, runtime, chosen_parity, "onnx" if kind == "fp32" else "onnx-int8"


def _int8_parity(parity: Parity, data: Any, out: np.ndarray, actual: np.ndarray, gates: ExportGates,
                 err: float, base: float) -> Parity:
    """Gate the int8 model on its MAE change against the fp32 MAE ``base`` (original units)."""
    mae_q = float(np.mean(np.abs(data.inverse(out, "test")[: len(out)] - actual)))
    change = 100.0 * (mae_q - base) / base if base > 0 else 0.0
    if change > gates.int8_bound_pct:
        raise ExportError(f"parity gate: int8 MAE {mae_q:.4g} is {change:.2f}% worse than fp32's {base:.4g} "
                          f"(bound {gates.int8_bound_pct:g}%); keep fp32 or raise the bound")
    return parity.model_copy(update={"max_abs_err": err, "mae_exported": mae_q, "mae_change_pct": change,
                                     "mae_bound_pct": gates.int8_bound_pct, "mae_reference": base})


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def export_from_run(run_dir: str | Path, model: str, fmt: str = "onnx", dataset: str | None = None,
                    horizon: int | None = None, gates: ExportGates | None = None,
                    name: str | None = None) -> ExportResult:
    """Export a model trained by ``ranml benchmark run`` (from its results folder).

    The job is picked by model name (and dataset/horizon when the run has several); its checkpoint
    is loaded and the held-out windows are rebuilt from the job's recorded data config.
    """
    from ranml.benchmark import DatasetConfig, resolve_model, windows_for

    run = Path(run_dir)
    try:
        board: list[dict[str, Any]] = json.loads((run / "leaderboard.json").read_text())
        selection: list[dict[str, Any]] = json.loads((run / "selection.json").read_text())
        run_info: dict[str, Any] = json.loads((run / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise ExportError(f"{run}: not a finished benchmark results folder ({exc})") from None
    matches = [r for r in board if r["model"] == model and (dataset is None or r["dataset"] == dataset)
               and (horizon is None or r["horizon"] == horizon)]
    if not matches:
        have = sorted({f"{r['model']} ({r['dataset']}, h{r['horizon']})" for r in board})
        raise ExportError(f"{run}: no job for model {model!r}; have: {', '.join(have)}")
    if len(matches) > 1:
        options = ", ".join(f"--dataset {r['dataset']} --horizon {r['horizon']}" for r in matches)
        raise ExportError(f"{run}: model {model!r} ran in several jobs; choose one with {options}")
    rec = matches[0]
    if rec["status"] != "ok":
        raise ExportError(f"cannot export {model!r}: its job failed ({rec.get('error')})")
    job_dir = run / "jobs" / rec["job_id"]
    try:
        job_cfg = json.loads((job_dir / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ExportError(f"{job_dir}: job folder unreadable ({exc})") from None
    import hashlib

    import torch

    ds = DatasetConfig.model_validate(job_cfg["dataset"])
    cls = resolve_model(job_cfg["model"].get("ref") or job_cfg["model"]["name"])
    data = windows_for(ds, int(rec["horizon"]), cls.view(dict(rec.get("hparams") or {})))
    train_keys = {"lr", "weight_decay", "batch_size", "search_trials", "tune"}
    params = {k: v for k, v in (rec.get("hparams") or {}).items() if k not in train_keys}
    shape = data.model_shape()
    instance = cls(shape, **params)
    try:
        state = torch.load(job_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
        instance.load_state(state)
    except (OSError, RuntimeError, KeyError) as exc:
        raise ExportError(f"{job_dir}: cannot load the checkpoint ({exc})") from None
    chosen = [s["loop_class"] for s in selection if s.get("job_id") == rec["job_id"]]
    kpi_keys = ("mae", "rmse", "smape", "wape", "mase", "r2", "latency_p50_us", "latency_p99_us", "throughput_per_s",
                "peak_memory_mb", "params", "flops", "model_bytes", "train_seconds", "energy_j", "energy_source")
    lineage = Lineage(
        run_dir=str(run.resolve()), run_name=run_info.get("name"), job_id=rec["job_id"], dataset=rec["dataset"],
        dataset_hash=hashlib.sha256(ds.model_dump_json().encode()).hexdigest()[:16],
        config_hash=hashlib.sha256(json.dumps(job_cfg, sort_keys=True).encode()).hexdigest()[:16],
    )
    try:
        return export_model(instance, data, name or model, fmt, gates, lineage,
                            {k: rec.get(k) for k in kpi_keys}, chosen[0] if chosen else None)
    except ExportError:
        raise
    except RanmlError as exc:
        raise ExportError(str(exc)) from None
