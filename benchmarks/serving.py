"""Serving latency: bare ONNX Runtime vs Predictor vs HTTP, the FLOP floor, and hot swaps at 1 kHz.

For each exported zoo model at batch 1 on one thread: p50/p99 of bare ``session.run`` (same graph,
same options), of ``Predictor.predict`` (overhead ratio), and of the HTTP path through a real
uvicorn server on 127.0.0.1; the FLOP floor (model FLOPs ÷ a float32 matmul rate measured in this
run) and each p99's ratio to it. Then a 1 kHz loop on one model without and with hot swaps.

    python benchmarks/serving.py [--quick] --json OUT.json

Targets: Predictor overhead ≤ 10 % over bare ORT; p99 ≤ 2× the FLOP floor for models ≥ 1 MFLOP;
in-process ≥ 5× faster than HTTP at p50; zero swap-caused misses, p99 during swaps ≤ 1.2× steady.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ranml.benchmark.data import generate
from ranml.benchmark.data.windows import WindowSpec, make_windows
from ranml.benchmark.kpis import count_flops
from ranml.benchmark.models import ZOO, ModelShape, TrainSettings, build_model, resolve_model
from ranml.serving import LocalRegistry
from ranml.serving.export import ExportGates, export_model
from ranml.serving.runtime import Predictor
from ranml.serving.swap import ModelSlot

PARAMS = {"mlp": {"hidden": 64}, "lstm": {"hidden": 32}, "gru": {"hidden": 32}, "tcn": {"channels": 16, "levels": 4},
          "patchtst": {"d_model": 32, "layers": 1}, "transformer": {"d_model": 32, "layers": 1}}


class _SkipHttpError(Exception):
    """--swap-only: no HTTP measurement."""


def percentiles(samples: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def time_calls(fn, calls: int, warmup: int = 100) -> np.ndarray:
    for _ in range(warmup):
        fn()
    lat = np.empty(calls)
    for i in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        lat[i] = (time.perf_counter_ns() - t0) / 1e3
    return lat


def matmul_rate() -> float:
    """Single-thread float32 matmul rate (FLOP/s) on this machine, this run."""
    import torch

    torch.set_num_threads(1)
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    for _ in range(10):
        a @ b
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * 256**3 * reps / (time.perf_counter() - t0)


def bare_session(model: bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def start_server(registry: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "serve", "--registry", str(registry), "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def run_1khz(slot: ModelSlot, cells, windows, seconds: float, deadline_s: float,
             swap_every_s: float | None, make_next) -> dict:
    """Call ``slot.predict`` at 1 kHz; optionally swap versions in the background."""
    lat, misses, failed = [], 0, 0
    stop = threading.Event()
    swaps = [0]

    def swapper():
        n = 0
        while not stop.wait(swap_every_s):
            n += 1
            slot.swap_in_background(make_next(n)).result()
            swaps[0] += 1

    t = threading.Thread(target=swapper) if swap_every_s else None
    if t:
        t.start()
    period = 1e-3
    next_tick = time.perf_counter()
    end = next_tick + seconds
    while next_tick < end:
        while time.perf_counter() < next_tick:
            pass
        f = slot.predict(cells, windows)
        # Response time from the scheduled tick: a call that started late (the loop was held up)
        # counts its lateness too, as it would in a control loop.
        us = (time.perf_counter() - next_tick) * 1e6
        lat.append(us)
        misses += us > deadline_s * 1e6
        failed += f.fallback
        next_tick += period
    stop.set()
    if t:
        t.join()
    p50, p99 = percentiles(np.array(lat))
    return {"p50_us": p50, "p99_us": p99, "misses": misses, "failed": failed, "calls": len(lat), "swaps": swaps[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer models and calls")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--swap-only", action="store_true", help="only the 1 kHz hot-swap measurement")
    args = ap.parse_args()
    calls = 500 if args.quick else 3000
    series_models = sorted(n for n in ZOO if not resolve_model(n).capabilities.spatial)
    names = ["nlinear", "lstm", "tcn"] if args.quick else series_models
    if args.swap_only:
        names = ["lstm"]
    data = make_windows(generate(cells=8, days=10, step="15min", seed=5),
                        WindowSpec(input_steps=96, horizon=4, features=["prb_util"], max_train_windows=500,
                                   max_eval_windows=64))
    rate = matmul_rate()
    print(f"float32 matmul rate, 1 thread: {rate / 1e9:.2f} GFLOP/s")
    rows, exported = [], {}
    tmp = Path(tempfile.mkdtemp())
    reg = LocalRegistry(tmp / "reg")
    cells_idx = data.cell["test"][:1]
    cells = [data.cells[c] for c in cells_idx]
    x = data.x["test"][:1]
    for name in names:
        shape = ModelShape(96, 4, int(data.x["train"].shape[-1]), 0, 96)
        model = build_model(name, shape, **PARAMS.get(name, {}))
        model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"], TrainSettings(epochs=1))
        flops = count_flops(model.torch_module(), x)
        result = export_model(model, data, name, "onnx", ExportGates(windows=32))
        reg.register(name, result.files, result.manifest.model_dump(mode="json"))
        exported[name] = result
        sess = bare_session(result.files["model"])
        bare = time_calls(lambda s=sess: s.run(None, {"x": x}), calls)
        pred = Predictor(result.files["model"], result.manifest, "1.0.0").start()
        shift, scale = data.scaler.shift[cells_idx], data.scaler.scale[cells_idx]
        raw = x.copy()
        raw[:, :, :2] = x[:, :, :2] * scale[:, None, :] + shift[:, None, :]
        inproc = time_calls(lambda p=pred, w=raw: p.predict(cells, w), calls)
        b50, b99 = percentiles(bare)
        p50, p99 = percentiles(inproc)
        floor = flops / rate * 1e6
        rows.append({"model": name, "flops": flops, "floor_us": floor, "bare_p50_us": b50, "bare_p99_us": b99,
                     "p50_us": p50, "p99_us": p99, "overhead_ratio": p50 / b50,
                     "floor_ratio": p99 / floor if floor > 0 else None, "_raw": raw})
        print(f"{name:14s} bare p50 {b50:7.1f} p99 {b99:7.1f} | predictor p50 {p50:7.1f} p99 {p99:7.1f} "
              f"| overhead {p50 / b50:5.2f}x | floor {floor:7.1f} us", flush=True)
    proc, base = start_server(tmp / "reg") if not args.swap_only else (None, "")
    try:
        if proc is None:
            raise _SkipHttpError
        import httpx

        with httpx.Client() as client:
            for row in rows:
                body = {"cells": cells, "windows": row["_raw"].astype(float).tolist(), "version": "1.0.0"}
                url = f"{base}/v1/models/{row['model']}/predict"
                http = time_calls(lambda u=url, b=body: client.post(u, json=b).raise_for_status(),
                                  max(200, calls // 5), warmup=20)
                row["http_p50_us"] = float(np.percentile(http, 50))
                row["http_ratio"] = row["http_p50_us"] / row["p50_us"]
    except _SkipHttpError:
        for row in rows:
            row["http_p50_us"], row["http_ratio"] = float("nan"), float("nan")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    for row in rows:
        del row["_raw"]
    swap_model = "lstm" if "lstm" in exported else names[0]
    r = exported[swap_model]
    shift, scale = data.scaler.shift[cells_idx], data.scaler.scale[cells_idx]
    raw = x.copy()
    raw[:, :, :2] = x[:, :, :2] * scale[:, None, :] + shift[:, None, :]
    slot = ModelSlot(Predictor(r.files["model"], r.manifest, "1.0.0")).start()
    make = lambda n: Predictor(r.files["model"], r.manifest, f"1.0.{n}")  # noqa: E731
    seconds = 3.0 if args.quick else 10.0
    steady = run_1khz(slot, cells, raw, seconds, 1e-3, None, make)
    swapping = run_1khz(slot, cells, raw, seconds, 1e-3, 0.5, make)
    swap = {"model": swap_model, "steady_p99_us": steady["p99_us"], "swap_p99_us": swapping["p99_us"],
            "steady_misses": steady["misses"], "swap_misses": swapping["misses"],
            "failed_calls": steady["failed"] + swapping["failed"], "swaps": swapping["swaps"],
            "calls": steady["calls"] + swapping["calls"], "deadline_us": 1000.0}
    print()
    print(f"{'model':14s} {'MFLOP':>7s} {'floor':>7s} {'bare50':>7s} {'pred50':>7s} {'pred99':>7s} {'ovh':>5s} "
          f"{'p99/flr':>7s} {'http50':>8s} {'http/in':>7s}")
    for row in rows:
        fr = f"{row['floor_ratio']:7.1f}" if row["floor_ratio"] else "    n/a"
        print(f"{row['model']:14s} {row['flops'] / 1e6:7.3f} {row['floor_us']:7.1f} {row['bare_p50_us']:7.1f} "
              f"{row['p50_us']:7.1f} {row['p99_us']:7.1f} {row['overhead_ratio']:5.2f} {fr} "
              f"{row['http_p50_us']:8.0f} {row['http_ratio']:7.1f}")
    ratio = swap["swap_p99_us"] / swap["steady_p99_us"]
    print(f"\n1 kHz on {swap_model}: steady p99 {swap['steady_p99_us']:.0f} us, misses {swap['steady_misses']}; "
          f"with {swap['swaps']} swaps p99 {swap['swap_p99_us']:.0f} us ({ratio:.2f}x), "
          f"misses {swap['swap_misses']}, failed calls {swap['failed_calls']}")
    if args.json:
        args.json.write_text(json.dumps({"models": rows, "swap": swap}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
