"""Measure an ONNX model in a fresh process: latency, throughput, peak memory.

Run as ``python -m ranml.benchmark._ort_probe REQUEST.json``; prints one JSON object. A fresh
process keeps the memory high-water mark honest (no torch, no other models) and pins ONNX Runtime
to the requested thread count. Imports only numpy and onnxruntime.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the resident high-water mark (Linux ``clear_refs`` 5); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def probe(req: dict[str, object]) -> dict[str, float]:
    """Run the measurement described by ``req`` (see :func:`ranml.benchmark.kpis.measure_onnx`)."""
    import onnxruntime as ort

    shape = [int(v) for v in req["input_shape"]]  # type: ignore[attr-defined]
    calls, warmup = int(req["calls"]), int(req["warmup"])  # type: ignore[call-overload]
    batch = int(req["throughput_batch"])  # type: ignore[call-overload]
    rng = np.random.default_rng(0)
    x1 = rng.standard_normal([1, *shape[1:]]).astype(np.float32)
    xb = rng.standard_normal([batch, *shape[1:]]).astype(np.float32)
    # Peak resident memory added by loading and running the model: reset the high-water mark after
    # the imports (whose transient peak would otherwise hide a small model), measure from the
    # current resident size.
    base = (_status_mb("VmRSS") if _reset_peak() else None) or _peak_mb()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(req["threads"])  # type: ignore[call-overload]
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(req["model"]), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    for _ in range(warmup):
        sess.run(None, {name: x1})
    lat: np.ndarray = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter_ns()
        sess.run(None, {name: x1})
        lat[i] = time.perf_counter_ns() - t0
    for _ in range(3):
        sess.run(None, {name: xb})
    reps = max(5, int(req.get("throughput_reps", 20)))  # type: ignore[call-overload, attr-defined]
    start = time.perf_counter()
    for _ in range(reps):
        sess.run(None, {name: xb})
    elapsed = time.perf_counter() - start
    return {
        "latency_p50_us": float(np.percentile(lat, 50) / 1e3),
        "latency_p99_us": float(np.percentile(lat, 99) / 1e3),
        "throughput_per_s": float(reps * batch / elapsed),
        "peak_memory_mb": max(0.0, _peak_mb() - base),
        "calls": float(calls),
    }


def main() -> int:
    """Entry point: read the request file, print the result as JSON."""
    with open(sys.argv[1], encoding="utf-8") as fh:
        req = json.load(fh)
    sys.stdout.write(json.dumps(probe(req)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
