"""Scale-out and harness overhead of the benchmark runner.

Prints a table and writes JSON:

* the same N jobs on ``local`` (1 process), ``joblib`` with 1 and 2 workers, ``dask`` with 1 and
  2 workers (a LocalCluster); speed-up = 1-worker time ÷ 2-worker time on the same backend, and
  against ``local``. Target on 2 cores: ≥ 1.7×.
* harness overhead: ``ForecastModel.fit`` (our training loop: seeding, loss checks, gradient
  clipping, early-stopping bookkeeping, best-weight copies and restore, callbacks) vs a bare PyTorch
  loop written inline doing the same epochs and batches plus the per-epoch validation pass that
  early stopping needs, on the same windows. Target: ≤ 10 %.
* system time: one benchmark run (Transformer and TCN on hourly windows of a week, the shape of
  real 4G data) in a child process, with ``train.reuse_freed_memory`` off (the C library's
  defaults: before) and on (after, the default); user and system CPU seconds and minor page
  faults of the child from ``wait4``. Target: system time ≤ 10 % of CPU time.

Each configuration runs ``--repeats`` times (default 2) and the fastest run counts: on a shared
2-core VM single runs vary by ±15 %.

    python benchmarks/scaleout.py [--quick] [--repeats N] [--only scaleout,overhead,systime] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ranml.benchmark import run_benchmark
from ranml.benchmark.config import BenchmarkConfig


def make_config(jobs: int, epochs: int, windows: int = 2000) -> BenchmarkConfig:
    datasets = [
        {"name": f"city-{i}", "source": {"kind": "synth", "cells": 8, "days": 14, "step": "15min", "seed": i},
         "windows": {"input_steps": 96, "horizon": 4, "features": ["prb_util"], "max_train_windows": windows,
                     "max_val_windows": 400}}
        for i in range(jobs // 2)
    ]
    models = [{"name": "lstm", "params": {"hidden": 32}}, {"name": "tcn", "params": {"channels": 16, "levels": 4}}]
    return BenchmarkConfig.model_validate({
        "name": "scaleout", "datasets": datasets, "models": models,
        "train": {"epochs": epochs, "patience": epochs, "batch_size": 128},
        "kpis": {"latency_calls": 1000},
    })


def time_backend(cfg: BenchmarkConfig, backend: str, workers: int) -> tuple[float, list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_benchmark(cfg, Path(tmp) / "out", backend=backend, workers=workers)
        return time.perf_counter() - t0, res.records


def bare_loop(net, x, y, xv, yv, epochs: int, batch: int, lr: float, seed: int) -> float:
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    xvt, yvt = torch.from_numpy(xv), torch.from_numpy(yv)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), batch):
            idx = order[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        net.eval()
        with torch.inference_mode():
            for i in range(0, len(xvt), 4 * batch):
                torch.nn.functional.mse_loss(net(xvt[i : i + 4 * batch]), yvt[i : i + 4 * batch])
    return time.perf_counter() - t0


def harness_overhead(cfg: BenchmarkConfig, repeats: int) -> dict[str, float]:
    from ranml.benchmark.job import windows_for
    from ranml.benchmark.models import ModelShape, TrainSettings, build_model

    ds = cfg.datasets[0]
    data = windows_for(ds, 4, spatial=False)
    shape = ModelShape(data.input_steps, data.horizon, int(data.x["train"].shape[-1]), 0, data.season_steps)
    epochs = cfg.train.epochs
    settings = TrainSettings(epochs=epochs, patience=epochs + 1, batch_size=128, lr=1e-3, seed=0, threads=1)
    ours, bare = [], []
    build_model("lstm", shape, hidden=32).fit(  # warm up this process (first-call costs)
        data.x["train"][:256], data.y["train"][:256], data.x["val"][:64], data.y["val"][:64],
        TrainSettings(epochs=1, seed=0, threads=1))
    for r in range(repeats):
        model = build_model("lstm", shape, hidden=32)
        t0 = time.perf_counter()
        model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"], settings)
        ours.append(time.perf_counter() - t0)
        net = build_model("lstm", shape, hidden=32).build()
        bare.append(bare_loop(net, data.x["train"], data.y["train"], data.x["val"], data.y["val"], epochs, 128,
                              1e-3, r))
    o, b = statistics.median(ours), statistics.median(bare)
    return {"harness_s": o, "bare_s": b, "overhead_pct": 100.0 * (o - b) / b}


def systime_config(quick: bool, reuse: bool) -> dict:
    return {
        "name": "systime",
        "datasets": [{"name": "cells-1h", "source": {"kind": "synth", "cells": 48, "days": 70, "step": "1h", "seed": 3},
                      "windows": {"input_steps": 168, "horizon": 24, "features": ["prb_util"],
                                  "max_train_windows": 6000 if quick else 20000, "max_val_windows": 2000}}],
        "models": [{"name": "transformer", "params": {"d_model": 32, "layers": 1}},
                   {"name": "tcn", "params": {"channels": 16, "levels": 4}}],
        "train": {"epochs": 1 if quick else 2, "patience": 2, "reuse_freed_memory": reuse},
        "kpis": {"latency_calls": 200},
    }


def system_time(quick: bool) -> list[dict]:
    """The same run in a child process with the allocator tuning off (before) and on (after)."""
    import yaml

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, reuse in (("before (C library defaults)", False), ("after (reuse freed memory)", True)):
            cfg = Path(tmp) / f"systime-{reuse}.yaml"
            cfg.write_text(yaml.safe_dump(systime_config(quick, reuse)))
            t0 = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", "from ranml.cli.app import main; main()", "benchmark", "run",
                                     str(cfg), "--out",
                                     str(Path(tmp) / f"out-{reuse}")], stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"systime run failed with exit code {proc.returncode}")
            cpu = usage.ru_utime + usage.ru_stime
            rows.append({"run": label, "reuse_freed_memory": reuse, "wall_s": wall, "user_s": usage.ru_utime,
                         "sys_s": usage.ru_stime, "sys_pct": 100.0 * usage.ru_stime / cpu,
                         "minor_faults": usage.ru_minflt})
            print(f"{label:30s} wall {wall:6.1f}s user {usage.ru_utime:6.1f}s sys {usage.ru_stime:6.1f}s "
                  f"({rows[-1]['sys_pct']:4.1f} %) faults {usage.ru_minflt:,}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer jobs and epochs")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--repeats", type=int, default=2, help="runs per configuration; the fastest counts")
    ap.add_argument("--only", default="scaleout,overhead,systime", help="sections to run, comma-separated")
    args = ap.parse_args()
    sections = set(args.only.split(","))
    jobs, epochs, windows = (4, 2, 1000) if args.quick else (8, 10, 4000)
    cfg = make_config(jobs, epochs, windows)
    result: dict = {}
    if "systime" in sections:
        sys_rows = system_time(args.quick)
        before, after = sys_rows
        result["system_time"] = {"runs": sys_rows,
                                 "sys_ratio_before_over_after": before["sys_s"] / max(after["sys_s"], 1e-9),
                                 "wall_ratio_before_over_after": before["wall_s"] / after["wall_s"]}
    rows = []
    reference = None
    backends = (("local", 1), ("joblib", 1), ("joblib", 2), ("dask", 1), ("dask", 2)) if "scaleout" in sections else ()
    for backend, workers in backends:
        runs = [time_backend(cfg, backend, workers) for _ in range(max(1, args.repeats))]
        seconds = min(s for s, _ in runs)
        records = runs[0][1]
        maes = [r["mae"] for r in records]
        if reference is None:
            reference = maes
        same = bool(np.allclose(maes, reference, rtol=0, atol=1e-9))
        rows.append({"backend": backend, "workers": workers, "jobs": len(records), "seconds": seconds,
                     "same_metrics_as_local": same})
        print(f"{backend:7s} workers={workers} jobs={len(records)} {seconds:7.1f}s same_metrics={same}", flush=True)
    if rows:
        by = {(r["backend"], r["workers"]): r["seconds"] for r in rows}
        speedups = {
            "joblib_2_vs_1": by[("joblib", 1)] / by[("joblib", 2)],
            "dask_2_vs_1": by[("dask", 1)] / by[("dask", 2)],
            "joblib_2_vs_local": by[("local", 1)] / by[("joblib", 2)],
            "dask_2_vs_local": by[("local", 1)] / by[("dask", 2)],
        }
        result.update(runs=rows, speedups=speedups)
        print()
        print(f"{'backend':8s} {'workers':>7s} {'jobs':>5s} {'seconds':>9s} {'same metrics':>13s}")
        for r in rows:
            same = str(r["same_metrics_as_local"])
            print(f"{r['backend']:8s} {r['workers']:7d} {r['jobs']:5d} {r['seconds']:9.1f} {same:>13s}")
        print()
        for k, v in speedups.items():
            print(f"speed-up {k:20s} {v:5.2f}x   (target >= 1.7x with 2 workers)")
    if "overhead" in sections:
        overhead = harness_overhead(cfg, 2 if args.quick else 3)
        result["overhead"] = overhead
        print(f"harness overhead: fit {overhead['harness_s']:.2f}s vs bare loop {overhead['bare_s']:.2f}s "
              f"= {overhead['overhead_pct']:+.1f}%   (target <= 10%)")
    if "system_time" in result:
        print()
        print(f"{'system time':30s} {'wall s':>7s} {'user s':>7s} {'sys s':>7s} {'sys %':>6s} {'minor faults':>13s}")
        for r in result["system_time"]["runs"]:
            print(f"{r['run']:30s} {r['wall_s']:7.1f} {r['user_s']:7.1f} {r['sys_s']:7.1f} {r['sys_pct']:6.1f} "
                  f"{r['minor_faults']:13,d}")
        st = result["system_time"]
        print(f"system time before/after {st['sys_ratio_before_over_after']:.1f}x, wall before/after "
              f"{st['wall_ratio_before_over_after']:.2f}x   (target: sys <= 10 % of CPU time after)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
