"""dApp loop performance: slot published by the RAN -> control written by the dApp, over the E3 link.

The RAN-side emulator and the dApp run as two processes (``ranml dapp emulate`` / ``ranml dapp
run``) for each row: model x transport (shared memory, Unix socket) x hot swap (none, every
second) at 1 kHz (1 ms slots), plus 2 kHz (0.5 ms slots) rows on shared memory. Models: the
built-in linear trend (baseline, no ONNX), and a DLinear- and an LSTM-class ONNX model trained
here on slot-level synthetic load and served through ``ranml.serving`` (registry, ServedModel),
pinned to version 1.0.0; and one DLinear row that follows the ``champion`` alias instead (what
the follower's polling thread costs the loop).

Printed per row: latency p50/p99/p99.9 (µs), misses at the 10 ms budget and the ratio of p99 to the
baseline row measured in the same run.

    python benchmarks/dapp.py [--quick] --json OUT.json

Targets: p99 <= 1 ms and zero misses at a 10 ms budget for DLinear- and LSTM-class models.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

CELLS = 8
BUDGET_US = 10_000


def build_registry(root: Path) -> str:
    """Train and register tiny slot-level DLinear and LSTM models (univariate, window 32, horizon 4)."""
    from ranml.benchmark.models import ModelShape, TrainSettings, build_model
    from ranml.benchmark.windows import WindowSpec, make_windows
    from ranml.export import ExportGates, export_model
    from ranml.serving.registry import LocalRegistry
    from ranml.telemetry import generate

    table = generate(cells=CELLS, days=2, step="1min", seed=4)
    data = make_windows(table, WindowSpec(input_steps=32, horizon=4, target="prb_util", features=[], calendar=False,
                                          max_train_windows=4000, max_val_windows=500, max_test_windows=500))
    reg = LocalRegistry(root)
    for name in ("dlinear", "lstm"):
        model = build_model(name, ModelShape(32, 4, int(data.x["train"].shape[-1]), 0, 60 * 24))
        model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"],
                  TrainSettings(epochs=2, lr=1e-2, patience=3))
        result = export_model(model, data, name, "onnx", ExportGates(windows=32))
        reg.register(f"slot-{name}", result.files, result.manifest.model_dump(mode="json"), version="1.0.0")
        reg.set_alias(f"slot-{name}", "champion", "1.0.0", by="benchmark")
    return str(root)


def run_row(model: str, transport: str, hot_swap: bool, rate_hz: float, duration: float, registry: str,
            tmp: Path) -> dict[str, Any]:
    path = f"bench-{uuid.uuid4().hex[:8]}" if transport == "shm" else str(tmp / f"{uuid.uuid4().hex[:8]}.sock")
    cli = [sys.executable, "-m", "ranml.cli.app", "dapp"]
    emu = subprocess.Popen([*cli, "emulate", "--cells", str(CELLS), "--rate-hz", str(rate_hz), "--duration",
                            str(duration), "--transport", transport, "--path", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    emu.stderr.readline()  # type: ignore[union-attr]
    out = tmp / "row.json"
    args = [*cli, "run", "prb-reservation", "--cells", str(CELLS), "--transport", transport, "--path", path,
            "--budget-us", str(BUDGET_US), "--json", str(out)]
    if model != "linear-trend":
        name, _, ref = model.partition("@")  # "dlinear": pinned to 1.0.0; "dlinear@champion": the alias, followed
        args += ["--registry", registry, "--model", f"slot-{name}@{ref or '1.0.0'}"]
    if hot_swap:
        args += ["--swap-every-s", "1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=duration + 120, check=False)
    emu.wait(timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"dApp failed for {model}/{transport}: {done.stderr[-2000:]}")
    r = json.loads(out.read_text())
    return {"model": model, "transport": transport, "hot_swap": hot_swap, "rate_hz": rate_hz, "p50_us": r["p50_us"],
            "p99_us": r["p99_us"], "p999_us": r["p999_us"], "misses": r["misses"], "slots": r["slots"] + r["skipped"],
            "fallbacks": r["fallbacks"], "swaps": r["swaps"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 s per row instead of 60 s")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    duration = 5.0 if args.quick else 60.0
    rows = []
    with tempfile.TemporaryDirectory(prefix="ranml-dapp-bench-") as tmp_name:
        tmp = Path(tmp_name)
        registry = build_registry(tmp / "registry")
        plan = [(m, t, s, 1000.0) for m in ("linear-trend", "dlinear", "lstm") for t in ("shm", "unix")
                for s in (False, True)]
        plan += [(m, "shm", False, 2000.0) for m in ("dlinear", "lstm")]
        plan += [("dlinear@champion", "shm", False, 1000.0)]  # alias followed: the follower's polling thread
        for model, transport, swap, rate in plan:
            rows.append(run_row(model, transport, swap, rate, duration, registry, tmp))
            r = rows[-1]
            print(f"  {model:16s} {transport:4s} swap={'y' if swap else 'n'} {rate:6.0f} Hz  p50 {r['p50_us']:8.1f}  "
                  f"p99 {r['p99_us']:8.1f}  p99.9 {r['p999_us']:8.1f} us  misses {r['misses']}/{r['slots']}",
                  flush=True)
    base = rows[0]["p99_us"] or 1.0
    print("\n| model | transport | hot swap | rate Hz | p50 µs | p99 µs | p99.9 µs | misses / slots | p99 vs "
          "baseline |\n|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['transport']} | {'every 1 s' if r['hot_swap'] else 'no'} | {r['rate_hz']:.0f} | "
              f"{r['p50_us']} | {r['p99_us']} | {r['p999_us']} | {r['misses']} / {r['slots']} | "
              f"{(r['p99_us'] or 0) / base:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"budget_us": BUDGET_US, "cells": CELLS, "runs": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
