"""A real Flower federation: SuperLink and three SuperNodes as processes over 127.0.0.1, ``flwr run``.

One site sends a NaN update in round 2 (it must be refused and counted, the global model left
unharmed); one site answers round 1 after the round timeout (a straggler: the round goes on
without it). The model that comes out loads into the zoo model and forecasts.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("flwr", reason="Flower lives in the FL environment: pip install -c constraints-fl.txt "
                                   "-e '.[benchmark,fl,dev]' (README: Federated learning)")
torch = pytest.importorskip("torch")

from ranml.benchmark import resolve_model
from ranml.federated import FederationConfig, run_federation

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _config() -> FederationConfig:
    def site(name: str, seed: int, mix: tuple[float, float], faults: dict[str, object]) -> dict[str, object]:
        return {"name": name, "faults": faults,
                "source": {"kind": "synth", "cells": 4, "days": 8, "step": "1h", "seed": seed, "business_range": mix}}

    return FederationConfig.model_validate({
        "name": "it", "model": "mlp", "params": {"hidden": 16}, "rounds": 3, "seed": 1,
        "windows": {"input_steps": 12, "horizon": 2, "calendar": False, "max_train_windows": 300,
                    "max_val_windows": 80},
        "sites": [site("north", 1, (0.8, 1.0), {}),
                  site("south", 2, (0.0, 0.2), {"malformed": "nan", "rounds": [2]}),
                  site("east", 3, (0.3, 0.7), {"delay_s": 45.0, "rounds": [1]})],
        "strategy": {"name": "fedprox", "proximal_mu": 0.01, "min_train_sites": 1, "round_timeout_s": 30.0},
        "local": {"epochs": 2, "lr": 0.005},
        "personalise_epochs": 1,
        "baseline": {"epochs": 3},
    })


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("fl")
    seen: list[dict[str, object]] = []
    result = run_federation(_config(), out, on_round=seen.append)
    return result, seen, out


def test_every_round_is_recorded_and_reported_as_it_ends(run) -> None:
    result, seen, _ = run
    assert [r["round"] for r in seen] == [1, 2, 3]
    assert [r["round"] for r in result.summary["curve"]] == [0, 1, 2, 3]
    for r in seen:
        assert r["sampled"] == ["east", "north", "south"]
        assert r["bytes_down"] > 0 and r["bytes_up"] > 0 and r["wall_s"] > 0
        for s in r["sites"].values():
            assert s["energy_source"] in {"rapl", "estimate"} and s["energy_j"] > 0 and s["train_s"] > 0


def test_a_late_site_is_a_straggler_and_the_round_goes_on(run) -> None:
    _, seen, _ = run
    assert seen[0]["stragglers"] == ["east"]
    assert set(seen[0]["sites"]) == {"north", "south"} and seen[0]["aggregated"] == 2


def test_a_nan_update_is_refused_counted_and_does_not_reach_the_model(run) -> None:
    result, seen, out = run
    assert list(seen[1]["rejected"]) == ["south"] and "NaN" in seen[1]["rejected"]["south"]
    assert seen[1]["sites"]["south"]["accepted"] is False
    assert result.summary["rejected_updates"] == 1
    state = torch.load(out / "model.pt", weights_only=False)
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values())
    # the site's NaN in round 2 did not spoil round 3's start: every site's error of that global model is a number
    assert all(math.isfinite(s["val_mae_in"]) for s in seen[2]["sites"].values())


def test_the_federation_learns_and_is_scored_per_site(run) -> None:
    result, _, _ = run
    s = result.summary
    for site in ("north", "south"):  # scored on the initial model (round 1) and on the final one
        curve = s["site_curves"][site]
        assert curve[0][0] == 0 and curve[-1][0] == 3 and curve[-1][1] < curve[0][1]
    assert set(s["sites"]) == {"north", "south", "east"}
    for row in s["sites"].values():
        assert all(math.isfinite(row[k]) for k in ("val_mae", "test_mae", "personal_val_mae", "central_val_mae"))
    assert s["central"]["epochs"] >= 1 and math.isfinite(s["val_mae_vs_central"])


def test_the_model_carries_its_lineage_and_forecasts(run) -> None:
    _, _, out = run
    saved = torch.load(out / "model.pt", weights_only=False)
    lineage = saved["lineage"]
    assert lineage["kind"] == "federated" and lineage["strategy"]["name"] == "fedprox" and lineage["rounds"] == 3
    assert set(lineage["sites"]) == {"north", "south", "east"} and all(n > 0 for n in lineage["sites"].values())
    from ranml.benchmark import ModelShape

    shape = ModelShape(**{k: v for k, v in saved["shape"].items()})
    model = resolve_model(saved["name"])(shape, **saved["hparams"])
    model.load_state(saved)
    x = torch.zeros(shape.example_input(3)).numpy()
    assert model.predict(x).shape == (3, 2)


def test_the_model_is_exported_per_site_with_the_parity_gate_and_registered(run, tmp_path) -> None:
    from ranml.federated import export_site_model
    from ranml.serving import open_registry

    _, _, out = run
    result = export_site_model(out, "north")
    m = result.manifest
    assert m.parity.windows > 0 and m.parity.max_abs_err <= m.parity.tolerance
    assert m.lineage.training["kind"] == "federated" and m.lineage.dataset == "north"
    assert m.scaler.cells and len(m.scaler.cells) == 4  # the site's own cells and scaler
    registry = open_registry(str(tmp_path / "reg"))
    record = registry.register(m.name, result.files, m.model_dump(mode="json"))
    assert registry.get(m.name, record.version).manifest["lineage"]["training"]["strategy"]["name"] == "fedprox"


def test_an_unknown_site_is_refused_at_export(run) -> None:
    from ranml.errors import ExportError
    from ranml.federated import export_site_model

    _, _, out = run
    with pytest.raises(ExportError, match="not in the run"):
        export_site_model(out, "west")


def test_the_report_shows_curves_sites_and_rounds(run) -> None:
    _, _, out = run
    page = (out / "report" / "index.html").read_text()
    assert page.count("<svg") == 3
    assert all(site in page for site in ("north", "south", "east"))
    assert "NaN" in page  # the refused update and its reason
