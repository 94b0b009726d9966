"""Scale-out and harness overhead of the benchmark runner.

Prints a table and writes JSON:

* the same N jobs on ``local`` (1 process), ``joblib`` with 1 and 2 workers, ``dask`` with 1 and
  2 workers (a LocalCluster); speed-up = 1-worker time ÷ 2-worker time on the same backend, and
  against ``local``. Target on 2 cores: ≥ 1.7×.
* harness overhead: ``ForecastModel.fit`` (our training loop: seeding, loss checks, gradient
  clipping, early-stopping bookkeeping, best-weight copies and restore, callbacks) vs a bare PyTorch
  loop written inline doing the same epochs and batches plus the per-epoch validation pass that
  early stopping needs, on the same windows. Target: ≤ 10 %.

Each configuration runs ``--repeats`` times (default 2) and the fastest run counts: on a shared
2-core VM single runs vary by ±15 %.

    python benchmarks/scaleout.py [--quick] [--repeats N] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
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
                     "max_eval_windows": 400}}
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer jobs and epochs")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--repeats", type=int, default=2, help="runs per configuration; the fastest counts")
    args = ap.parse_args()
    jobs, epochs, windows = (4, 2, 1000) if args.quick else (8, 10, 4000)
    cfg = make_config(jobs, epochs, windows)
    rows = []
    reference = None
    for backend, workers in (("local", 1), ("joblib", 1), ("joblib", 2), ("dask", 1), ("dask", 2)):
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
    by = {(r["backend"], r["workers"]): r["seconds"] for r in rows}
    speedups = {
        "joblib_2_vs_1": by[("joblib", 1)] / by[("joblib", 2)],
        "dask_2_vs_1": by[("dask", 1)] / by[("dask", 2)],
        "joblib_2_vs_local": by[("local", 1)] / by[("joblib", 2)],
        "dask_2_vs_local": by[("local", 1)] / by[("dask", 2)],
    }
    overhead = harness_overhead(cfg, 2 if args.quick else 3)
    print()
    print(f"{'backend':8s} {'workers':>7s} {'jobs':>5s} {'seconds':>9s} {'same metrics':>13s}")
    for r in rows:
        same = str(r["same_metrics_as_local"])
        print(f"{r['backend']:8s} {r['workers']:7d} {r['jobs']:5d} {r['seconds']:9.1f} {same:>13s}")
    print()
    for k, v in speedups.items():
        print(f"speed-up {k:20s} {v:5.2f}x   (target >= 1.7x with 2 workers)")
    print(f"harness overhead: fit {overhead['harness_s']:.2f}s vs bare loop {overhead['bare_s']:.2f}s "
          f"= {overhead['overhead_pct']:+.1f}%   (target <= 10%)")
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "speedups": speedups, "overhead": overhead}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
