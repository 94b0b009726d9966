"""Serving latency: bare ONNX Runtime vs Predictor vs HTTP, the FLOP floor, and hot swaps at 1 kHz.

For each exported zoo model at batch 1 on one thread: p50/p99 of bare ``session.run`` (same graph,
same options), of ``Predictor.predict`` (overhead ratio), and of the HTTP path through a real
uvicorn server on 127.0.0.1; the FLOP floor (model FLOPs ÷ a float32 matmul rate measured in this
run) and each p99's ratio to it; the same Predictor without its compiled one-row call (the numpy
path) and on the Python-binding engine, for comparison.
Then a 1 kHz loop on one model in alternating steady / swapping phases, for several loop styles:
the C-API engine with the loop handing its slack to ``ModelSlot.idle`` and a helper thread calling
``swap()`` (the session built on a native thread: the JSON's ``swap``), the loop calling
``submit()`` itself, the same with the build on the swapping thread through ctypes (as without the
compiled helpers), the C-API engine without ``idle()``, the Python binding, and a helper thread that
only wakes up (``swap_by_engine`` holds them all).

    python benchmarks/serving.py [--quick] --json OUT.json
    python benchmarks/serving.py --floor-sweep --json OUT.json   # the FLOP floor as models grow

Targets: Predictor overhead ≤ 10 % over bare ORT; p99 ≤ 2× the FLOP floor for models ≥ 1 MFLOP;
in-process ≥ 5× faster than HTTP at p50; zero swap-caused misses, p99 during swaps ≤ 1.2× steady.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ranml.benchmark.kpis import count_flops
from ranml.benchmark.models import ZOO, ModelShape, TrainSettings, build_model, resolve_model
from ranml.benchmark.windows import WindowSpec, make_windows
from ranml.export import ExportGates, export_model
from ranml.serving import LocalRegistry
from ranml.serving.runtime import Predictor
from ranml.serving.swap import ModelSlot
from ranml.telemetry import generate

# --floor-sweep: each model at growing widths (the first is the size the main table uses).
FLOOR_SWEEP = {"mlp": ("hidden", (64, 256, 1024)), "gru": ("hidden", (32, 128, 256)),
               "tcn": ("channels", (16, 64, 128)), "patchtst": ("d_model", (32, 128, 256)),
               "transformer": ("d_model", (32, 128, 256))}
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


def steal_ms(_first: list[int] = []) -> float:  # noqa: B006 - remembers the first reading
    """CPU time this VM's vCPUs waited for the host since the first call (``/proc/stat`` steal)."""
    try:
        ticks = int(Path("/proc/stat").read_text().split()[8])
    except (OSError, IndexError, ValueError):
        return float("nan")
    if not _first:
        _first.append(ticks)
    return (ticks - _first[0]) * 1000 / os.sysconf("SC_CLK_TCK")


def thread_wakeup_us(rounds: int = 2000) -> tuple[float, float, int]:
    """How long a blocked thread takes to run after it is signalled: (p99, max, count over 500 µs).

    Every GIL handoff blocks one thread and wakes another, so on a VM whose idle vCPUs wake slowly
    a swap's few handoffs can each cost the serving thread a deadline. Printed next to the swap
    figures so that runs on different machines can be compared.
    """
    go, ack = threading.Event(), threading.Event()
    sent, lat = [0.0], np.empty(rounds)

    def waiter():
        for i in range(rounds):
            go.wait()
            lat[i] = time.perf_counter() - sent[0]
            go.clear()
            ack.set()

    t = threading.Thread(target=waiter)
    t.start()
    for _ in range(rounds):
        time.sleep(0.001)
        sent[0] = time.perf_counter()
        go.set()
        ack.wait()
        ack.clear()
    t.join()
    us = lat * 1e6
    return float(np.percentile(us, 99)), float(us.max()), int((us > 500).sum())


def floor_sweep(data, rate: float, calls: int) -> list[dict]:
    """How far batch-1 latency is from the FLOP floor as a model grows (bare ORT and torch eager).

    The floor assumes every FLOP runs at a 256×256 matmul's rate. A batch-1 model reaches that only
    where its FLOPs are in matrix products with many rows (attention over the input's tokens, a
    convolution over all steps); matrix-vector products (an MLP on one window, a recurrent step)
    are bound by reading the weights, and many small operators by per-operator dispatch. The sweep
    shows which it is for each model, and that torch's own eager forward is as far from the floor.
    """
    import torch

    torch.set_num_threads(1)
    x = data.x["test"][:1]
    rows = []
    for name, (param, widths) in FLOOR_SWEEP.items():
        for width in widths:
            shape = ModelShape(96, 4, int(data.x["train"].shape[-1]), 0, 96)
            kwargs = {**PARAMS.get(name, {}), param: width}
            model = build_model(name, shape, **kwargs)
            model.fit(data.x["train"][:128], data.y["train"][:128], data.x["val"], data.y["val"],
                      TrainSettings(epochs=1))
            module = model.torch_module().eval()
            flops = count_flops(module, x)
            result = export_model(model, data, name, "onnx", ExportGates(windows=16))
            sess = bare_session(result.files["model"])
            b50, b99 = percentiles(time_calls(lambda s=sess: s.run(None, {"x": x}), calls, warmup=30))
            xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            with torch.inference_mode():
                t50, t99 = percentiles(time_calls(lambda m=module, a=xt: m(a), calls, warmup=30))
            floor = flops / rate * 1e6
            row = {"model": name, param: width, "flops": flops, "floor_us": floor, "bare_p50_us": b50,
                   "bare_p99_us": b99, "bare_floor_ratio": b99 / floor, "torch_p50_us": t50, "torch_p99_us": t99,
                   "torch_floor_ratio": t99 / floor}
            rows.append(row)
            print(f"{name:12s} {param}={width:<5d} {flops / 1e6:9.2f} MFLOP  floor {floor:8.1f} us  "
                  f"ORT p50/p99 {b50:8.1f}/{b99:8.1f} ({b99 / floor:5.1f}x)  "
                  f"torch p50/p99 {t50:8.1f}/{t99:8.1f} ({t99 / floor:5.1f}x)", flush=True)
    return rows


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


def run_1khz(slot: ModelSlot, cells, windows, rounds: int, deadline_s: float, make_next, use_idle: bool,
             trigger: str = "thread") -> dict:
    """Call ``slot.predict`` at 1 kHz in alternating one-second phases: steady, then with two swaps.

    Alternating phases expose both to the same machine noise (this VM misses a few 1 ms ticks now
    and then with no swap at all). Latency is the response time from the scheduled tick: a call
    that started late because the loop was held up counts its lateness too, as in a control loop.
    With ``use_idle`` the loop hands its slack to ``slot.idle()`` while it waits for the next tick.
    ``trigger``: ``thread`` — a helper thread calls ``slot.swap()``; ``submit`` — the loop itself
    calls ``slot.submit()`` at the same moments (no helper thread); ``wake`` — no swap, the helper
    thread only wakes up at the same moments (what any cross-thread trigger costs the loop here).
    """
    import gc

    period, phase_ticks = 1e-3, 1000
    lat = {"steady": np.empty(rounds * phase_ticks), "swap": np.empty(rounds * phase_ticks)}
    at = np.empty(rounds * phase_ticks)  # scheduled time of each swap-phase tick
    misses = {"steady": 0, "swap": 0}
    failed, swaps = 0, 0
    windows_s: list[tuple[float, float]] = []  # (start, end) of each swap's preparation
    # Versions are constructed (cheap) up front; each swap phase has a helper thread that starts
    # and swaps two of them, 0.1 s and 0.6 s into the phase, while the loop keeps its ticks.
    upcoming = [make_next(n + 1) for n in range(2 * rounds)]

    def swapper(pair):
        for delay, new in zip((0.1, 0.4), pair, strict=True):
            time.sleep(delay)
            t0 = time.perf_counter()
            if trigger == "thread":
                slot.swap(new)
            windows_s.append((t0, time.perf_counter()))

    def submitted(t0):
        return lambda _future: windows_s.append((t0, time.perf_counter()))  # called in the loop's idle()

    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        for r in range(rounds):
            for phase in ("steady", "swap"):
                helper, submits = None, {}
                if phase == "swap" and trigger == "submit":
                    submits = dict(zip((100, 600), upcoming[2 * r : 2 * r + 2], strict=True))
                elif phase == "swap":
                    helper = threading.Thread(target=swapper, args=(upcoming[2 * r : 2 * r + 2],))
                    helper.start()
                buf, base = lat[phase], r * phase_ticks
                next_tick = time.perf_counter()
                for i in range(phase_ticks):
                    if use_idle:
                        while time.perf_counter() < next_tick:
                            slot.idle(next_tick)
                    else:
                        while time.perf_counter() < next_tick:
                            pass
                    f = slot.predict(cells, windows)
                    us = (time.perf_counter() - next_tick) * 1e6
                    buf[base + i] = us
                    if phase == "swap":
                        at[base + i] = next_tick
                    misses[phase] += us > deadline_s * 1e6
                    failed += f.fallback
                    if i in submits:
                        t0 = time.perf_counter()
                        slot.submit(submits[i]).add_done_callback(submitted(t0))
                    next_tick += period
                if helper is not None:
                    helper.join()
                if phase == "swap" and trigger != "wake":
                    swaps += 2
    finally:
        gc.enable()
        gc.unfreeze()
    s50, s99 = percentiles(lat["steady"])
    w50, w99 = percentiles(lat["swap"])
    # Ticks scheduled while a swap was being prepared (and the two after it): a miss there may be
    # the swap's; a miss elsewhere in the swap phase is the machine's, as in the steady phase.
    inside = np.zeros(len(at), dtype=bool)
    for t0, t1 in windows_s:
        inside |= (at >= t0 - period) & (at <= t1 + 2 * period)
    during = lat["swap"][inside]
    return {"steady_p50_us": s50, "steady_p99_us": s99, "swap_p50_us": w50, "swap_p99_us": w99,
            "steady_misses": misses["steady"], "swap_phase_misses": misses["swap"],
            "swap_misses": int((during > deadline_s * 1e6).sum()), "ticks_during_swaps": int(inside.sum()),
            "during_swaps_p50_us": float(np.percentile(during, 50)) if len(during) else float("nan"),
            "during_swaps_max_us": float(during.max()) if len(during) else float("nan"),
            "prepare_ms_p50": float(np.median([1e3 * (b - a) for a, b in windows_s])),
            "failed_calls": failed, "swaps": swaps, "calls": 2 * rounds * phase_ticks,
            "deadline_us": deadline_s * 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer models and calls")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--swap-only", action="store_true", help="only the 1 kHz hot-swap measurement")
    ap.add_argument("--floor-sweep", action="store_true",
                    help="only the FLOP-floor sweep: bare ORT and torch at growing model widths")
    args = ap.parse_args()
    calls = 500 if args.quick else 3000
    series_models = sorted(n for n in ZOO if not resolve_model(n).capabilities.spatial)
    names = ["nlinear", "lstm", "tcn"] if args.quick else series_models
    if args.swap_only:
        names = ["lstm"]
    data = make_windows(generate(cells=8, days=10, step="15min", seed=5),
                        WindowSpec(input_steps=96, horizon=4, features=["prb_util"], max_train_windows=500,
                                   max_val_windows=64, max_test_windows=64))
    rate = matmul_rate()
    print(f"float32 matmul rate, 1 thread: {rate / 1e9:.2f} GFLOP/s")
    if args.floor_sweep:
        sweep = floor_sweep(data, rate, calls=300 if args.quick else 1000)
        if args.json:
            args.json.write_text(json.dumps({"matmul_gflops": rate / 1e9, "floor_sweep": sweep}, indent=2))
        return 0
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
        pred_py = Predictor(result.files["model"], result.manifest, "1.0.0", engine="python").start()
        pred_np = Predictor(result.files["model"], result.manifest, "1.0.0", fused=False).start()
        shift, scale = data.scaler.shift[cells_idx], data.scaler.scale[cells_idx]
        raw = x.copy()
        raw[:, :, :2] = x[:, :, :2] * scale[:, None, :] + shift[:, None, :]
        # Interleaved in short blocks so that drifts of this shared machine hit all four alike.
        bare_l, inproc_l, py_l, np_l = [], [], [], []
        for _ in range(10):
            bare_l.append(time_calls(lambda s=sess: s.run(None, {"x": x}), calls // 10, warmup=20))
            inproc_l.append(time_calls(lambda p=pred, w=raw: p.predict(cells, w), calls // 10, warmup=20))
            py_l.append(time_calls(lambda p=pred_py, w=raw: p.predict(cells, w), calls // 10, warmup=20))
            np_l.append(time_calls(lambda p=pred_np, w=raw: p.predict(cells, w), calls // 10, warmup=20))
        bare, inproc = np.concatenate(bare_l), np.concatenate(inproc_l)
        b50, b99 = percentiles(bare)
        p50, p99 = percentiles(inproc)
        py50, _ = percentiles(np.concatenate(py_l))
        np50, _ = percentiles(np.concatenate(np_l))
        floor = flops / rate * 1e6
        rows.append({"model": name, "flops": flops, "floor_us": floor, "bare_p50_us": b50, "bare_p99_us": b99,
                     "p50_us": p50, "p99_us": p99, "overhead_ratio": p50 / b50,
                     "floor_ratio": p99 / floor if floor > 0 else None, "engine": pred.engine_used,
                     "fused": pred.fused_used, "numpy_path_p50_us": np50, "python_engine_p50_us": py50,
                     "bare_floor_ratio": b99 / floor if floor > 0 else None,
                     "_raw": raw})
        print(f"{name:14s} bare p50 {b50:7.1f} p99 {b99:7.1f} | predictor p50 {p50:7.1f} p99 {p99:7.1f} "
              f"(numpy path p50 {np50:7.1f}, binding engine p50 {py50:7.1f}) | overhead {p50 / b50:5.2f}x "
              f"| floor {floor:7.1f} us", flush=True)
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
    rounds = 3 if args.quick else 10
    wake_p99, wake_max, wake_slow = thread_wakeup_us()
    steal_ms()
    by_engine = {}
    # (label, engine, the loop calls idle(), trigger, session built on a native thread where available)
    styles = (("capi+idle", "capi", True, "thread", True), ("submit", "capi", True, "submit", True),
              ("ctypes+idle", "capi", True, "thread", False),
              ("capi", "capi", False, "thread", True), ("python", "python", False, "thread", False),
              ("wake only", "capi", True, "wake", True))
    for label, engine, use_idle, trigger, off_thread in styles:
        slot = ModelSlot(Predictor(r.files["model"], r.manifest, "1.0.0", engine=engine)).start()

        def make(n, e=engine, native_build=off_thread):
            new = Predictor(r.files["model"], r.manifest, f"1.0.{n}", engine=e)
            if not native_build:  # as without the compiled helpers: the build runs through ctypes
                new.builds_off_thread = lambda: False
            return new

        by_engine[label] = {"model": swap_model, "engine": engine, "loop_calls_idle": use_idle, "trigger": trigger,
                            "native_build_thread": off_thread and make(0).builds_off_thread(),
                            **run_1khz(slot, cells, raw, rounds, 1e-3, make, use_idle, trigger)}
        print(f"1 kHz hot swap via {label}: {by_engine[label]}", flush=True)
    swap = dict(by_engine["capi+idle"])
    print()
    print(f"{'model':14s} {'MFLOP':>7s} {'floor':>7s} {'bare50':>7s} {'pred50':>7s} {'pred99':>7s} {'ovh':>5s} "
          f"{'np50':>7s} {'np ovh':>6s} {'p99/flr':>7s} {'http50':>8s} {'http/in':>7s}")
    for row in rows:
        # The floor target is for models of 1 MFLOP and more; below, fixed per-call costs dominate.
        fr = f"{row['floor_ratio']:7.1f}" if row["flops"] >= 1e6 else "  <1 MF"
        print(f"{row['model']:14s} {row['flops'] / 1e6:7.3f} {row['floor_us']:7.1f} {row['bare_p50_us']:7.1f} "
              f"{row['p50_us']:7.1f} {row['p99_us']:7.1f} {row['overhead_ratio']:5.2f} "
              f"{row['numpy_path_p50_us']:7.1f} {row['numpy_path_p50_us'] / row['bare_p50_us']:6.2f} {fr} "
              f"{row['http_p50_us']:8.0f} {row['http_ratio']:7.1f}")
    print("(pred: the Predictor as it serves, with the compiled one-row call where built; np: its numpy path)")
    print()
    print(f"1 kHz on {swap_model}, deadline 1 ms; this VM's steal time during the run: {steal_ms():.0f} ms; "
          f"thread wake-up p99 {wake_p99:.0f} us, max {wake_max:.0f} us, {wake_slow} of 2000 over 500 us")
    print(f"{'loop':10s} {'steady p99':>10s} {'swap p99':>9s} {'ratio':>6s} {'steady miss':>11s} "
          f"{'swap-phase miss':>15s} {'miss in swaps':>13s} {'ticks in swaps':>14s} {'max in swaps':>12s} "
          f"{'failed':>6s}")
    for label, w in by_engine.items():
        ratio = w["swap_p99_us"] / w["steady_p99_us"]
        print(f"{label:10s} {w['steady_p99_us']:10.0f} {w['swap_p99_us']:9.0f} {ratio:6.2f} "
              f"{w['steady_misses']:11d} {w['swap_phase_misses']:15d} {w['swap_misses']:13d} "
              f"{w['ticks_during_swaps']:14d} {w['during_swaps_max_us']:12.0f} {w['failed_calls']:6d}")
    if args.json:
        machine = {"thread_wakeup_p99_us": wake_p99, "thread_wakeup_max_us": wake_max,
                   "thread_wakeups_over_500us": wake_slow}
        args.json.write_text(json.dumps({"models": rows, "swap": swap, "swap_by_engine": by_engine,
                                         "machine": machine}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
