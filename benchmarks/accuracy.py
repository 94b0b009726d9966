"""Accuracy of the zoo on grid traffic, in the format of the field's reference table.

The reference (HiSTM's table on the Telecom Italia Milan grid, 10-minute internet activity) reports
MAE, RMSE, R² and SSIM per model. This script runs ranml's zoo through the benchmark harness on one
grid dataset, every model on the same test targets (the last week, interpolated targets left out),
and prints the same columns with parameters, FLOPs, training time and energy beside each row, the
ratio of each model's MAE to persistence (the baseline of the same run), and the two targets:

* the best model ≥ 25 % below persistence MAE on the held-out last week;
* the best spatio-temporal model (grid or neighbourhood view) ≥ 5 % below the best per-cell model.

It also draws parameters against MAE (PNG). Without ``--grid`` the data is ranml's generator (square
ids, neighbour correlation ≈ 0.9, heavy-tailed cell levels; hourly). With ``--grid FILE`` it is your
data: a tidy table (CSV/Parquet with square-id ``cell_id``) or a ``(T, H, W)`` ``.npy`` array, made
with ``ranml data import``.

    python benchmarks/accuracy.py [--quick] [--grid FILE --step 10min --kpi internet] [--json OUT] [--plot OUT.png]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from ranml.benchmark import run_benchmark
from ranml.benchmark.config import BenchmarkConfig

REFERENCE = [  # HiSTM (Milan grid, 10-minute internet): MAE, RMSE, R², SSIM as published
    ("PatchTST", 20.23, 45.24, 0.564, 0.919), ("STN", 7.39, 16.88, 0.955, 0.985), ("VMRNN-B", 7.17, None, None, None),
    ("PredRNN++", 7.00, None, None, None), ("xLSTM", 6.47, None, None, None), ("Autoformer", 5.59, None, None, None),
    ("STTRE", 5.56, None, None, None), ("Informer", 5.41, None, None, None), ("TimesNet", 5.35, None, None, None),
    ("HiSTM", 5.22, 11.25, 0.980, 0.9925),
]

SPATIAL_VIEWS = ("grid", "patch")


def zoo(quick: bool) -> list[dict[str, Any]]:
    small = quick
    return [
        {"name": "persistence"}, {"name": "seasonal_naive"},
        {"name": "dlinear"}, {"name": "nlinear"},
        {"name": "gbdt", "params": {"n_estimators": 150 if small else 600, "num_leaves": 31}},
        {"name": "nhits", "params": {"hidden": 64 if small else 256}},
        {"name": "lstm", "params": {"hidden": 32 if small else 64}},
        {"name": "tcn", "params": {"channels": 16, "levels": 4}},
        {"name": "patchtst", "params": {"d_model": 32, "layers": 1 if small else 2}},
        {"name": "transformer", "params": {"d_model": 32, "layers": 1}},
        {"name": "informer", "params": {"d_model": 32, "layers": 2}},
        {"name": "autoformer", "params": {"d_model": 32, "layers": 1}},
        {"name": "timesnet", "params": {"d_model": 16, "layers": 1 if small else 2}},
        {"name": "xlstm", "params": {"d_model": 16 if small else 32, "blocks": 2}},
        {"name": "mamba", "params": {"d_model": 16 if small else 32, "layers": 1 if small else 2}},
        {"name": "convlstm", "params": {"hidden": 8 if small else 16}},
        {"name": "histm", "params": {"d_model": 8 if small else 16, "layers": 1}},
        {"name": "predrnnpp", "params": {"hidden": 4 if small else 8, "layers": 2}},
        {"name": "stn", "params": {"neighbourhood": 3 if small else 5, "channels": 4 if small else 8,
                                   "hidden": 4 if small else 8}},
    ]


def make_config(args: argparse.Namespace) -> BenchmarkConfig:
    quick = args.quick
    if args.grid:
        suffix = Path(args.grid).suffix
        source: dict[str, Any] = {"kind": "file", "path": str(args.grid), "step": args.step}
        if suffix == ".npy":
            raise SystemExit("convert the array first: ranml data import GRID.npy --format grid-array "
                             "--step 10min --start 2013-11-01 --kpi internet --out grid.parquet")
        target, season_steps = args.kpi, int(24 * 60 / _minutes(args.step))
    else:
        source = {"kind": "synth", "cells": 16 if quick else 36, "days": 21 if quick else 42, "step": "1h", "seed": 11}
        target, season_steps = "traffic", 24
    windows = {"input_steps": season_steps, "horizon": 1, "target": target, "calendar": True,
               "split": {"test_steps": 7 * season_steps, "val_steps": 3 * season_steps},
               "max_train_windows": 3000 if quick else 20000, "max_val_windows": 1000 if quick else 4000}
    return BenchmarkConfig.model_validate({
        "name": "accuracy", "seed": 0,
        "datasets": [{"name": "grid", "grid": True, "source": source, "windows": windows}],
        "models": zoo(quick),
        "train": {"epochs": 3 if quick else 30, "patience": 3 if quick else 5, "batch_size": 128, "lr": 0.003},
        "kpis": {"latency_calls": 200 if quick else 1000, "warmup": 20},
    })


def _minutes(step: str) -> float:
    import pandas as pd

    return pd.Timedelta(step).total_seconds() / 60.0


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colours = {"series": "#2b6cb0", "grid": "#dd6b20", "patch": "#2f855a"}
    for r in rows:
        x = max(r["params"] or 0, 1)
        ax.scatter([x], [r["mae"]], color=colours.get(r["view"], "#555"), zorder=3)
        ax.annotate(r["model"], (x, r["mae"]), textcoords="offset points", xytext=(4, 3), fontsize=8)
    for view, colour in colours.items():
        ax.scatter([], [], color=colour, label=f"{view} view")
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log; baselines drawn at 1)")
    ax.set_ylabel("test MAE (last week, observed targets)")
    ax.set_title("Parameters vs accuracy, one score set for every model", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small data, small models, 3 epochs (CI)")
    ap.add_argument("--grid", type=Path, help="your grid data: a tidy table with square-id cells")
    ap.add_argument("--step", default="10min", help="the step of --grid data")
    ap.add_argument("--kpi", default="internet", help="the target KPI of --grid data")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--plot", type=Path, default=Path("build/accuracy.png"), help="parameters-vs-MAE plot (PNG)")
    ap.add_argument("--out", type=Path, help="keep the benchmark folder here (default: a temporary one)")
    args = ap.parse_args()
    cfg = make_config(args)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "run"
        result = run_benchmark(cfg, out)
        data = json.loads((out / "run.json").read_text())["data"]
    failed = [r for r in result.records if r["status"] != "ok"]
    for r in failed:
        print(f"FAILED {r['model']}: {r['error']}")
    ok = sorted((r for r in result.records if r["status"] == "ok"), key=lambda r: r["mae"])
    base = next(r for r in ok if r["model"] == "persistence")
    rows = [{"model": r["model"], "view": r["view"], "mae": r["mae"], "rmse": r["rmse"], "r2": r["r2"],
             "ssim": r["ssim"], "mae_vs_persistence": r["mae"] / base["mae"], "params": r["params"],
             "flops": r["flops"], "train_s": r["train_seconds"], "energy_j": r["energy_j"],
             "energy_source": r["energy_source"], "epochs": r["epochs"], "stopped_by": r["stopped_by"]}
            for r in ok]
    source = f"{args.grid} ({args.kpi}, {args.step})" if args.grid else "ranml generator (hourly)"
    print(f"\ndata: {source}; test: the last week, {data[0]['test_targets']:,} targets scored, "
          f"{data[0]['test_targets_masked']} interpolated ones left out; scored_on {data[0]['scored_on']}")
    head = (f"{'model':15s} {'view':7s} {'MAE':>9s} {'RMSE':>9s} {'R²':>7s} {'SSIM':>7s} {'vs pers.':>8s} "
            f"{'params':>9s} {'MFLOPs':>8s} {'train s':>8s} {'energy J':>9s}")
    print(head)
    for r in rows:
        print(f"{r['model']:15s} {r['view']:7s} {r['mae']:9.3f} {r['rmse']:9.3f} {r['r2']:7.3f} "
              f"{r['ssim'] if r['ssim'] is not None else float('nan'):7.4f} {r['mae_vs_persistence']:8.3f} "
              f"{r['params']:9,d} {r['flops'] / 1e6:8.2f} {r['train_s']:8.1f} {r['energy_j']:9.0f}")
    best = rows[0]
    per_cell = [r for r in rows if r["view"] == "series" and r["model"] not in ("persistence",)]
    spatial = [r for r in rows if r["view"] in SPATIAL_VIEWS]
    below = 100.0 * (1.0 - best["mae"] / base["mae"])
    print(f"\nbest {best['model']}: MAE {below:.1f} % below persistence (target >= 25 %)")
    gain = None
    if per_cell and spatial:
        gain = 100.0 * (1.0 - spatial[0]["mae"] / per_cell[0]["mae"])
        print(f"best spatio-temporal {spatial[0]['model']} vs best per-cell {per_cell[0]['model']}: "
              f"{gain:+.1f} % MAE (target >= 5 % below)")
    print("\nreference (HiSTM's table, Milan grid, 10-minute internet; other data, same columns):")
    for name, *vals in REFERENCE:
        print(f"  {name:12s} " + "  ".join("–" if v is None else f"{v:g}" for v in vals))
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, args.plot)
    print(f"plot: {args.plot}")
    if args.json:
        args.json.write_text(json.dumps({"data": data, "source": source, "rows": rows, "failed": failed,
                                         "best_below_persistence_pct": below, "spatial_gain_pct": gain,
                                         "reference": REFERENCE}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
