"""Closed-loop value of the forecast: energy saving and traffic steering against e2sim, several seeds.

For each scenario, app and seed, e2sim and the xApp run as two processes over RMR on 127.0.0.1
(:func:`ranml.evaluation.run_closed_loop`) once per policy: ``none`` (the app observes), ``reactive``
(the same xApp on the latest measurement, its margin calibrated on that value's own errors),
``forecast`` (the built-in forecaster) and ``oracle`` (the same decisions on the true future,
read from e2sim). Every number comes from e2sim's ground truth. The seed changes the traffic
(the synthetic generator's draw, each cell's peak, the short-term fluctuation), nothing else.

Printed per scenario, app and policy: mean ± standard deviation over the seeds of energy (kWh),
saving against ``none`` (%), overload cell-minutes, unserved traffic (Mbit), handovers and
failed controls; then the target ratios, measured in the same run:

* energy saving: forecast saving / reactive saving (target ≥ 1.25, with overload ≤ reactive's),
  forecast saving / oracle saving (target ≥ 0.8);
* traffic steering: the overload cut against ``none`` (target ≥ 50 %), forecast handovers /
  reactive handovers (target < 1).

    python benchmarks/closedloop.py [--quick] [--seeds N] [--speed X] --json OUT.json

``--quick``: the default scenario only, one seed (about 5 minutes). The full run (both
scenarios, three seeds) takes about 30 minutes at the default speed on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {"city-small": ROOT / "examples/scenarios/city-small.yaml",
             "replay-hourly": ROOT / "examples/scenarios/replay-hourly.yaml"}
APPS = ("energy-saving", "traffic-steering")
POLICIES = ("none", "reactive", "forecast", "oracle")
FIELDS = ("energy_kwh", "energy_saving_pct", "overload_minutes", "unserved", "handovers_ok", "controls_failed")


def seeded(scenario: Path, seed: int, folder: Path) -> Path:
    """A copy of ``scenario`` with ``traffic.seed`` replaced (its relative traffic path made absolute)."""
    doc = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    traffic = doc.setdefault("traffic", {})
    traffic["seed"] = seed
    if traffic.get("path") and not Path(traffic["path"]).is_absolute():
        traffic["path"] = str((scenario.parent / traffic["path"]).resolve())
    out = folder / f"{scenario.stem}-seed{seed}.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return out


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation of each field over the seeds' rows of one policy."""
    out = {}
    for f in FIELDS:
        values = [float(r[f] or 0.0) for r in rows]
        out[f] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return out


def ratios(app: str, stats: dict[str, dict[str, dict[str, float]]]) -> dict[str, float | None]:
    """The targets' ratios from the policies' means."""
    def m(policy: str, f: str) -> float:
        return stats[policy][f]["mean"]

    if app == "energy-saving":
        return {"forecast_vs_reactive_saving": m("forecast", "energy_saving_pct") / m("reactive", "energy_saving_pct")
                if m("reactive", "energy_saving_pct") else None,
                "forecast_vs_oracle_saving": m("forecast", "energy_saving_pct") / m("oracle", "energy_saving_pct")
                if m("oracle", "energy_saving_pct") else None,
                "forecast_minus_reactive_overload_min": m("forecast", "overload_minutes")
                - m("reactive", "overload_minutes")}
    base = m("none", "overload_minutes")
    return {"forecast_overload_cut_pct": 100.0 * (base - m("forecast", "overload_minutes")) / base if base else None,
            "reactive_overload_cut_pct": 100.0 * (base - m("reactive", "overload_minutes")) / base if base else None,
            "oracle_overload_cut_pct": 100.0 * (base - m("oracle", "overload_minutes")) / base if base else None,
            "forecast_vs_reactive_handovers": m("forecast", "handovers_ok") / m("reactive", "handovers_ok")
            if m("reactive", "handovers_ok") else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="default scenario, one seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--speed", type=float, default=2400.0, help="simulated seconds per wall second")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from ranml.evaluation import run_closed_loop

    scenarios = {"city-small": SCENARIOS["city-small"]} if args.quick else SCENARIOS
    seeds = [3] if args.quick else [3 + 10 * k for k in range(args.seeds)]
    console = Console(width=200)
    result: dict[str, Any] = {"speed": args.speed, "seeds": seeds, "rows": [], "summary": {}}
    with tempfile.TemporaryDirectory(prefix="ranml-closedloop-bench-") as tmp, Progress(console=console) as progress:
        task = progress.add_task("closed loop", total=len(scenarios) * len(APPS) * len(seeds))
        for name, path in scenarios.items():
            for app in APPS:
                per_policy: dict[str, list[dict[str, Any]]] = {p: [] for p in POLICIES}
                for seed in seeds:
                    progress.update(task, description=f"{name} {app} seed {seed}")
                    for row in run_closed_loop(seeded(path, seed, Path(tmp)), app, POLICIES, speed=args.speed):
                        row = {k: v for k, v in row.items() if k != "xapp"}
                        result["rows"].append({"scenario": name, "seed": seed, **row})
                        per_policy[row["policy"]].append(row)
                    progress.advance(task)
                stats = {p: summarise(rows) for p, rows in per_policy.items()}
                result["summary"][f"{name}/{app}"] = {"policies": stats, "ratios": ratios(app, stats)}
    for key, block in result["summary"].items():
        table = Table(title=f"{key}: mean ± std over seeds {seeds}")
        for col in ("policy", *FIELDS):
            table.add_column(col)
        for policy, st in block["policies"].items():
            table.add_row(policy, *(f"{st[f]['mean']:.2f} ± {st[f]['std']:.2f}" for f in FIELDS))
        console.print(table)
        console.print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in block["ratios"].items()})
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
