"""xApp performance: indication in -> decision out, per xApp process, against e2sim over RMR.

e2sim (one process) reports every cell once per second (1 s reporting period, cell-level KPM
actions); the energy-saving xApp (another process, forecast policy) decodes every indication,
updates the cell's ring, forecasts and decides. Two rows per cell count:

* **paced**: simulated time at real speed (1 s period) — the latency the app adds at that load;
* **flooded**: e2sim as fast as it can go — indications/s one xApp process handles (e2sim and the
  xApp share the 2 cores, so this is a lower bound for the xApp alone).

Printed per row: p50/p99 of receive -> handler done (µs; this includes the time a report waits
behind the others of its node's burst: e2sim sends every cell's report at the period boundary,
all nodes at once), p50/p99 of the handler alone, indications/s, and the predictor's share of the
handler time. Baseline in the same run: the built-in Holt forecaster; with ``--model
NAME@VERSION --registry R`` a registry ONNX model is measured too.

    python benchmarks/xapp.py [--quick] --json OUT.json

Targets: p99 <= 10 ms at 1,000 cells x 1 s period; >= 2,000 indications/s per process.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from ranml.evaluation import run_policy

SCENARIO = """\
name: bench-{cells}
speed: {speed}
duration: {duration}
start: "2026-03-02T08:00:00"
topology: {{gnbs: {gnbs}, cells_per_gnb: 10}}
traffic: {{source: synth, days: 1, seed: 1}}
"""


def run(cells: int, speed: float, duration_s: int, settings: dict[str, Any], tmp: Path,
        model: str | None, registry: str | None) -> dict[str, Any]:
    scenario = tmp / f"bench-{cells}-{speed}.yaml"
    scenario.write_text(SCENARIO.format(cells=cells, speed=speed, duration=f"{duration_s}s", gnbs=cells // 10))
    row = run_policy(scenario, "energy-saving", "forecast", tmp, settings=settings, model=model, registry=registry,
                     xapp_args=("--kpm-period-ms", "1000"))
    x = row["xapp"]
    handled_s = max(row["simulated_s"] / speed, 1e-9) if speed <= 1 else None
    wall = row["simulated_s"] / (row["speed_achieved"] or speed)
    return {"cells": cells, "mode": "paced" if speed <= 1 else "flooded", "p50_us": x.get("latency_p50_us"),
            "p99_us": x.get("latency_p99_us"), "service_p50_us": x.get("service_p50_us"),
            "service_p99_us": x.get("service_p99_us"), "indications": x["indications"],
            "indications_per_s": round(x["indications"] / (handled_s or wall), 1),
            "predictor_share": round(x.get("predict_s", 0.0) / max(x.get("indication_handler_s", 0.0), 1e-9), 3),
            "dropped": row["dropped_indications"], "forecaster": x.get("model_version") or "holt"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--model", help="registry model NAME@VERSION (measured in addition to Holt)")
    ap.add_argument("--registry")
    args = ap.parse_args()
    duration = 8 if args.quick else 30
    settings = {"history": 12, "horizon": 4, "sleep_below": 0.001}  # plan every node each period, switch nothing off
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cells in (100, 1000):
            for speed in (1.0, 20.0):
                rows.append(run(cells, speed, duration if speed <= 1 else int(duration * speed), settings,
                                Path(tmp), None, None))
                if args.model:
                    rows.append(run(cells, speed, duration if speed <= 1 else int(duration * speed), settings,
                                    Path(tmp), args.model, args.registry))
    print(f"{'cells':>6s} {'mode':8s} {'forecaster':10s} {'p50 us':>9s} {'p99 us':>9s} {'hdl p50':>9s} {'hdl p99':>9s} "
          f"{'ind/s':>9s} {'predictor':>9s} {'dropped':>8s}")
    for r in rows:
        print(f"{r['cells']:6d} {r['mode']:8s} {r['forecaster']:10s} {r['p50_us'] or 0:9.0f} {r['p99_us'] or 0:9.0f} "
              f"{r['service_p50_us'] or 0:9.0f} {r['service_p99_us'] or 0:9.0f} "
              f"{r['indications_per_s']:9.0f} {r['predictor_share']:9.1%} {r['dropped']:8d}")
    paced = [r for r in rows if r["cells"] == 1000 and r["mode"] == "paced"]
    flooded = [r for r in rows if r["mode"] == "flooded"]
    if paced:
        print(f"target p99 <= 10 ms at 1,000 cells x 1 s: {paced[0]['p99_us'] / 10_000:.2f}x the budget")
    if flooded:
        best = max(r["indications_per_s"] for r in flooded)
        print(f"target >= 2,000 indications/s per process: {best:.0f}/s ({best / 2000:.2f}x)")
    if args.json:
        args.json.write_text(json.dumps({"cells": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
