"""Federated learning against centralised training, and the strategies against each other, on Flower.

Runs ``examples/fl.yaml`` (four sites, each with its own traffic mix) on a local Flower federation
(a SuperLink and one SuperNode per site, separate processes over 127.0.0.1) once per strategy,
and trains the same model on the union of the sites' data once, in the same run:

* FedAvg's validation MAE over all sites / centralised (target ≤ 1.10);
* per site: FedAvg's global model, FedProx's, and FedAvg's model fine-tuned by each site
  (``personalise_epochs``); the target is that FedProx or the personalised model beats FedAvg
  on the non-IID sites (counted per site and on the mean over sites);
* per round: bytes each way, wall time, energy (with its source);
* faults (FedAvg again, in the same run): every site's link degraded (50 ms each way, 2 Mbit/s,
  0.1 % of chunks lost), a site killed mid-round and back a round later, the server restarted
  mid-run; each against the clean FedAvg run: final MAE, wall time, and for the killed site the
  rounds of progress it cost (target: at most one: the faulty run's final global MAE is no worse
  than the clean run's one round earlier);
* split learning (``examples/sl.yaml``'s site): two model families (MLP, N-HiTS), three cut points
  each: accuracy, the site's compute time and energy, bytes per step, end-to-end step latency.

    .venv-fl/bin/python benchmarks/federated.py [--quick] --json OUT.json

``--quick``: 6 rounds, smaller windows, one epoch of split learning (about 25 minutes on 2
cores); the full run has 10 rounds and adds the robust strategies (fedtrimmedavg, fedmedian).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ranml.federated import (
    FederationConfig,
    list_cuts,
    load_federation_config,
    load_split_config,
    run_federation,
    run_split,
)
from ranml.federated.centralised import train_centralised

ROOT = Path(__file__).resolve().parent.parent


def _mean_site(summary: dict[str, Any], key: str) -> float:
    return statistics.fmean(row[key] for row in summary["sites"].values())


def _faults(base: FederationConfig, clean: dict[str, Any], folder: Path, console: Console) -> dict[str, Any]:
    """FedAvg under each fault against the clean FedAvg run."""
    link = {"delay_ms": 50.0, "bandwidth_kbps": 2000.0, "loss": 0.001}
    kill_round = max(2, base.rounds // 2)
    doc = base.model_dump(mode="json")
    degraded = [{**site, "faults": {**site["faults"], "link": link}} for site in doc["sites"]]
    variants = {
        "degraded links": {"sites": degraded},
        "site killed mid-round": {"faults": {**doc["faults"], "kill_site": {
            "site": base.sites[0].name, "round": kill_round, "down_rounds": 1, "after_s": 3.0}}},
        "server restarted": {"faults": {**doc["faults"], "restart_server": {"after_round": kill_round}}},
    }
    out: dict[str, Any] = {}
    for label, update in variants.items():
        cfg = FederationConfig.model_validate({**doc, **update})
        console.print(f"faults: {label}")
        out[label] = run_federation(cfg, folder / label.replace(" ", "-"), centralised=False).summary
    # the clean run's global model one round before the end, scored on every site (the last round's "in")
    one_round_earlier = clean["curve"][-2]["global_val_mae"]
    table = Table(title="FedAvg under faults (against the clean run)")
    for col in ("run", "val MAE", "vs clean", "wall s", "vs clean", "failed", "stragglers"):
        table.add_column(col, justify="left" if col == "run" else "right")
    table.add_row("clean", f"{clean['val_mae']:.3f}", "1.000", f"{clean['federation_wall_s']:.0f}", "1.00", "0", "0")
    for label, r in out.items():
        table.add_row(label, f"{r['val_mae']:.3f}", f"{r['val_mae'] / clean['val_mae']:.3f}",
                      f"{r['federation_wall_s']:.0f}", f"{r['federation_wall_s'] / clean['federation_wall_s']:.2f}",
                      str(r["failed_replies"]), str(r["stragglers"]))
    console.print(table)
    killed = out["site killed mid-round"]["val_mae"]
    verdict = "met" if killed <= one_round_earlier else "NOT met"
    console.print(f"site killed mid-round: final val MAE {killed:.3f}; the clean run one round before the end "
                  f"{one_round_earlier:.3f} (target ≤ one round lost: {verdict})")
    return {"runs": out, "clean_one_round_earlier_val_mae": one_round_earlier,
            "kill_costs_at_most_one_round": killed <= one_round_earlier}


def _split(quick: bool, folder: Path, console: Console) -> dict[str, Any]:
    """Two families, three cut points each (first, middle, last valid one)."""
    base = load_split_config(ROOT / "examples/sl.yaml")
    if quick:
        base = base.model_copy(update={"epochs": 1})
    out: dict[str, Any] = {}
    link = base.site.faults.link
    table = Table(title=f"Split learning trade-off ({base.site.name}, {base.epochs} epochs, batch {base.batch_size}, "
                        f"link {link.delay_ms:g} ms / {link.bandwidth_kbps:g} kbit/s)")
    for col in ("model", "cut after", "site weights", "server weights", "floats/window", "val MAE", "site ms/step",
                "step ms", "kB/step", "site J"):
        table.add_column(col, justify="left" if col in ("model", "cut after") else "right")
    for model, params in (("mlp", {"hidden": 64, "layers": 3}), ("nhits", {})):
        cfg = base.model_copy(update={"model": model, "params": params})
        valid = [c["cut"] for c in list_cuts(cfg)]
        cuts = [valid[0], valid[len(valid) // 2], valid[-1]]
        result = run_split(cfg.model_copy(update={"cuts": cuts}), folder / model)
        out[model] = result.cuts
        for r in result.cuts:
            table.add_row(model, r["cut"], f"{r['site_params']:,}", f"{r['server_params']:,}",
                          str(r["floats_per_window"]), f"{r['val_mae']:.3f}", f"{r['site_ms_per_step']:.2f}",
                          f"{r['step_ms']:.2f}", f"{r['bytes_per_step'] / 1e3:.1f}",
                          f"{r['site_energy_j']:.1f} ({r['energy_source']})")
    console.print(table)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--config", type=Path, default=ROOT / "examples/fl.yaml")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--fedavg-only", action="store_true",
                        help="run FedAvg alone before the faults and split learning (no strategy comparison)")
    args = parser.parse_args()
    console = Console(width=160)
    base = load_federation_config(args.config)
    if args.quick:
        windows = base.windows.model_copy(update={"max_train_windows": 1500, "max_val_windows": 400})
        base = base.model_copy(update={"rounds": 6, "windows": windows})
    strategies = ["fedavg", "fedprox"] + ([] if args.quick else ["fedtrimmedavg", "fedmedian"])
    if args.fedavg_only:
        strategies = ["fedavg"]
    central = train_centralised(base)
    console.print(f"centralised: val MAE {central['val_mae']:.3f} after {central['epochs']} epochs "
                  f"({central['train_s']:.1f} s)")
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ranml-fl-bench-") as tmp:
        for name in strategies:
            strategy = base.strategy.model_copy(update={"name": name})
            cfg = base.model_copy(update={"strategy": strategy,
                                          "personalise_epochs": base.personalise_epochs if name == "fedavg" else 0})
            result = run_federation(cfg, Path(tmp) / name, centralised=False,
                                    on_round=lambda r, n=name: console.print(
                                        f"  {n} round {r['round']}: val MAE in {r['global_val_mae_in']:.3f}, "
                                        f"{r['wall_s']:.1f} s"))
            runs[name] = result.summary
    fedavg = runs["fedavg"]
    table = Table(title=f"Per-site validation MAE ({base.model}, {base.rounds} rounds, {len(base.sites)} sites)")
    columns = ["site", "centralised", *strategies, "fedavg personalised"]
    for col in columns:
        table.add_column(col, justify="left" if col == "site" else "right")
    for site in fedavg["sites"]:
        table.add_row(site, f"{central['sites'][site]['val_mae']:.3f}",
                      *[f"{runs[s]['sites'][site]['val_mae']:.3f}" for s in strategies],
                      f"{fedavg['sites'][site]['personal_val_mae']:.3f}")
    table.add_row("all windows", f"{central['val_mae']:.3f}", *[f"{runs[s]['val_mae']:.3f}" for s in strategies],
                  f"{fedavg['personal_val_mae']:.3f}")
    console.print(table)
    rounds = Table(title="Cost per run")
    for col in ("strategy", "rounds", "MB down", "MB up", "wall s", "energy J", "source", "refused", "stragglers"):
        rounds.add_column(col, justify="left" if col in ("strategy", "source") else "right")
    for s in strategies:
        r = runs[s]
        rounds.add_row(s, str(r["rounds"]), f"{r['bytes_down'] / 1e6:.2f}", f"{r['bytes_up'] / 1e6:.2f}",
                       f"{r['federation_wall_s']:.0f}", f"{r['energy_j']:.0f}", ",".join(r["energy_sources"]),
                       str(r["rejected_updates"]), str(r["stragglers"]))
    console.print(rounds)
    sites = list(fedavg["sites"])
    ratio = fedavg["val_mae"] / central["val_mae"]
    prox = runs.get("fedprox", fedavg)
    better_prox = sum(prox["sites"][s]["val_mae"] < fedavg["sites"][s]["val_mae"] for s in sites)
    better_pers = sum(fedavg["sites"][s]["personal_val_mae"] < fedavg["sites"][s]["val_mae"] for s in sites)
    targets = {
        "fedavg_vs_central_val_mae": ratio,
        "fedavg_vs_central_target": 1.10,
        "fedprox_sites_better_than_fedavg": better_prox,
        "personalised_sites_better_than_fedavg": better_pers,
        "sites": len(sites),
        "mean_site_val_mae": {"fedavg": _mean_site(fedavg, "val_mae"),
                              "fedprox": _mean_site(prox, "val_mae"),
                              "fedavg_personalised": _mean_site(fedavg, "personal_val_mae"),
                              "centralised": statistics.fmean(v["val_mae"] for v in central["sites"].values())},
    }
    console.print(f"FedAvg / centralised val MAE: {ratio:.3f} (target ≤ 1.10: {'met' if ratio <= 1.10 else 'NOT met'})")
    console.print(f"sites where FedProx beats FedAvg: {better_prox}/{len(sites)}; where the personalised model "
                  f"does: {better_pers}/{len(sites)}")
    console.print("mean per-site val MAE: " + ", ".join(f"{k} {v:.3f}"
                                                        for k, v in targets["mean_site_val_mae"].items()))
    with tempfile.TemporaryDirectory(prefix="ranml-fl-faults-") as tmp:
        faults = _faults(base, fedavg, Path(tmp), console)
    targets["kill_costs_at_most_one_round"] = faults["kill_costs_at_most_one_round"]
    with tempfile.TemporaryDirectory(prefix="ranml-sl-bench-") as tmp:
        split = _split(args.quick, Path(tmp), console)
    targets["split_cut_points"] = {m: len(v) for m, v in split.items()}
    args.json.write_text(json.dumps({"quick": args.quick, "central": central, "runs": runs, "faults": faults,
                                     "split": split, "targets": targets}, indent=1))


if __name__ == "__main__":
    main()
