"""Faults from YAML on a real Flower federation: a degraded link, a site killed mid-round, a server restart.

The federation goes on without the killed site and takes it back when it rejoins; the restarted
server resumes from its checkpoint instead of starting over.
"""

from __future__ import annotations

import pytest

pytest.importorskip("flwr", reason="Flower lives in the FL environment: pip install -c constraints-fl.txt "
                                   "-e '.[benchmark,fl,dev]' (README: Federated learning)")
pytest.importorskip("torch")

from ranml.federated import FederationConfig, run_federation

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _config() -> FederationConfig:
    def site(name: str, seed: int, faults: dict[str, object]) -> dict[str, object]:
        return {"name": name, "faults": faults,
                "source": {"kind": "synth", "cells": 4, "days": 8, "step": "1h", "seed": seed}}

    return FederationConfig.model_validate({
        "name": "faults", "model": "mlp", "params": {"hidden": 16}, "rounds": 5, "seed": 2,
        "windows": {"input_steps": 12, "horizon": 2, "calendar": False, "max_train_windows": 300,
                    "max_val_windows": 80},
        "sites": [site("north", 1, {"link": {"delay_ms": 20, "bandwidth_kbps": 4000}}),
                  site("south", 2, {}),
                  site("east", 3, {})],
        "strategy": {"name": "fedavg", "min_train_sites": 2, "round_timeout_s": 40.0},
        "local": {"epochs": 1, "lr": 0.005},
        "baseline": {"epochs": 0},
        "faults": {"kill_site": {"site": "east", "round": 2, "down_rounds": 1, "after_s": 1.0},
                   "restart_server": {"after_round": 3}},
    })


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("fl-faults")
    return run_federation(_config(), out), out


def test_the_run_finishes_every_round_once(run) -> None:
    result, _ = run
    assert [r["round"] for r in result.summary["curve"]] == [0, 1, 2, 3, 4, 5]


def test_the_killed_site_is_missed_then_taken_back(run) -> None:
    result, _ = run
    rounds = {r["round"]: r for r in result.record["rounds"]}
    assert "east" in rounds[1]["sites"]
    assert "east" not in rounds[2]["sites"], "the site was killed in round 2"
    assert rounds[2]["aggregated"] >= 2, "the round went on with the others"
    assert "east" in rounds[5]["sites"], "the restarted site rejoined"
    assert set(result.summary["sites"]) == {"north", "south", "east"}


def test_the_restarted_server_resumes_from_its_checkpoint(run) -> None:
    result, out = run
    rounds = {r["round"]: r for r in result.record["rounds"]}
    # round 4 starts from round 3's global model, not from the initial weights
    assert rounds[4]["global_val_mae_in"] < rounds[1]["global_val_mae_in"]
    assert (out / "logs" / "superlink.log").read_text(errors="replace").count("Starting Flower SuperLink") == 2


def test_the_degraded_link_carries_the_sites_rounds(run) -> None:
    result, out = run
    assert (out / "logs" / "link-north.log").exists()
    assert all("north" in r["sites"] for r in result.record["rounds"])
