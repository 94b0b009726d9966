"""One federated run end to end: the federation on Flower, the centralised reference, the summary."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ranml.config import load_yaml
from ranml.federated.config import FederationConfig
from ranml.federated.outputs import RunFiles, write_json

__all__ = ["FederationResult", "load_federation_config", "run_federation", "summarise"]

log = logging.getLogger("ranml.federated.run")


def load_federation_config(path: str | Path) -> FederationConfig:
    """Read and validate a federated run's YAML (errors name the field, the file and the line)."""
    return load_yaml(path, FederationConfig)


@dataclass(frozen=True)
class FederationResult:
    """What a run produced: the summary (``summary.json``), every round (``result.json``), the files."""

    summary: dict[str, Any]
    record: dict[str, Any]
    files: RunFiles


def _mae(abs_sum: float | None, count: float) -> float | None:
    return abs_sum / count if abs_sum is not None and count else None


def _site_curves(rounds: list[dict[str, Any]], final: dict[str, Any]) -> dict[str, list[list[float]]]:
    """Per site, ``[round, val MAE]`` of every global model it was scored on (round 0: the initial one)."""
    curves: dict[str, list[list[float]]] = {site: [] for site in final}
    for r in rounds:
        for site, row in r["sites"].items():
            if row["val_mae_in"] is not None:
                curves.setdefault(site, []).append([r["round"] - 1, row["val_mae_in"]])
    for site, row in final.items():
        if row["val_mae"] is not None:
            curves[site].append([len(rounds), row["val_mae"]])
    return curves


def summarise(record: dict[str, Any], central: dict[str, Any] | None) -> dict[str, Any]:
    """Per-site and overall errors of the federated model (and its personalised copies) vs centralised.

    ``curve`` has the validation MAE of each round's global model over the sites that were scored on
    it (those that answered the next round; ``sites`` names them, so points over different sites
    are not mistaken for progress); ``site_curves`` has it per site.
    """
    final = record["final"]
    sites: dict[str, Any] = {}
    totals = {"val": 0.0, "test": 0.0, "personal_val": 0.0, "personal_test": 0.0, "val_n": 0.0, "test_n": 0.0}
    personal = all(v.get("personal_val_abs") is not None for v in final.values()) and bool(final)
    for site, v in sorted(final.items()):
        row = {"val_mae": _mae(v["val_abs"], v["val_count"]), "test_mae": _mae(v["test_abs"], v["test_count"]),
               "personal_val_mae": _mae(v.get("personal_val_abs"), v["val_count"]),
               "personal_test_mae": _mae(v.get("personal_test_abs"), v["test_count"])}
        if central is not None and site in central["sites"]:
            row["central_val_mae"] = central["sites"][site]["val_mae"]
            row["central_test_mae"] = central["sites"][site]["test_mae"]
        sites[site] = row
        totals["val"] += v["val_abs"]
        totals["test"] += v["test_abs"]
        totals["val_n"] += v["val_count"]
        totals["test_n"] += v["test_count"]
        if personal:
            totals["personal_val"] += v["personal_val_abs"]
            totals["personal_test"] += v["personal_test_abs"]
    rounds = record["rounds"]
    out: dict[str, Any] = {
        "lineage": record["lineage"],
        "sites": sites,
        "val_mae": _mae(totals["val"], totals["val_n"]),
        "test_mae": _mae(totals["test"], totals["test_n"]),
        "personal_val_mae": _mae(totals["personal_val"], totals["val_n"]) if personal else None,
        "personal_test_mae": _mae(totals["personal_test"], totals["test_n"]) if personal else None,
        "rounds": len(rounds),
        "bytes_down": sum(r["bytes_down"] for r in rounds),
        "bytes_up": sum(r["bytes_up"] for r in rounds),
        "energy_j": sum(r["energy_j"] for r in rounds),
        "energy_sources": sorted({s["energy_source"] for r in rounds for s in r["sites"].values()}),
        "rejected_updates": sum(len(r["rejected"]) for r in rounds),
        "failed_replies": sum(len(r["failed"]) for r in rounds),
        "stragglers": sum(len(r["stragglers"]) for r in rounds),
        "federation_wall_s": record["wall_s"],
        "curve": [{"round": r["round"] - 1, "global_val_mae": r["global_val_mae_in"], "sites": sorted(r["sites"])}
                  for r in rounds]
        + [{"round": len(rounds), "global_val_mae": _mae(totals["val"], totals["val_n"]), "sites": sorted(final)}],
        "site_curves": _site_curves(rounds, sites),
    }
    if central is not None:
        out["central"] = {k: central[k] for k in ("val_mae", "test_mae", "epochs", "train_s")}
        if out["val_mae"] is not None and central["val_mae"]:
            out["val_mae_vs_central"] = out["val_mae"] / central["val_mae"]
    return out


def run_federation(cfg: FederationConfig, out: str | Path, *, centralised: bool | None = None,
                   on_round: Callable[[dict[str, Any]], None] | None = None) -> FederationResult:
    """Run ``cfg`` on a local Flower federation and, unless disabled, the centralised reference.

    Parameters
    ----------
    cfg
        The run.
    out
        Output folder: ``summary.json``, ``result.json`` (every round), ``model.pt``,
        ``report/index.html``, ``logs/``.
    centralised
        Train the centralised reference (default: when ``baseline.epochs > 0``).
    on_round
        Called with each round's record as it finishes (progress).

    Raises
    ------
    FederationError
        The engine did not start or the run ended without a result.
    """
    from ranml.federated.centralised import train_centralised
    from ranml.federated.deployment import LocalFederation
    from ranml.federated.report import write_report

    files = RunFiles(Path(out).resolve())
    with LocalFederation(cfg, files.root) as federation:
        record = federation.run(on_round=on_round)
    central = train_centralised(cfg) if (centralised if centralised is not None else cfg.baseline.epochs > 0) \
        else None
    summary = summarise(record, central)
    write_json(files.root / "summary.json", summary)
    write_report(files.root / "report", summary, record)
    return FederationResult(summary, record, files)
