"""`ranml eval closed-loop`: e2sim and an xApp as processes per policy, rows from the ground truth."""

import json

import pytest
from typer.testing import CliRunner

from ranml.cli.app import app

pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")
pytestmark = pytest.mark.integration


def test_closed_loop_rows_for_energy_saving(tmp_path):
    out = tmp_path / "es.json"
    result = CliRunner().invoke(app, ["eval", "closed-loop", "examples/scenarios/city-small.yaml", "--app",
                                      "energy-saving", "--policy", "reactive", "--speed", "1800", "--duration", "2h",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    row = json.loads(out.read_text())
    assert set(row) >= {"policy", "energy_j", "energy_saving_pct", "unserved", "overload_minutes", "handovers_ok",
                        "handovers_failed", "controls_ok", "controls_failed", "deadline_misses", "indications",
                        "dropped_indications"}
    assert row["policy"] == "reactive" and row["indications"] > 0 and row["dropped_indications"] == 0
    assert row["controls_ok"] >= 1 and row["energy_saving_pct"] > 0  # night-time cells were switched off
    assert row["simulated_s"] == 7200


@pytest.mark.parametrize("app_name", ["energy-saving", "traffic-steering"])
def test_every_policy_runs_over_rmr_and_the_oracle_reads_the_true_future(tmp_path, app_name):
    out = tmp_path / "rows.json"
    result = CliRunner().invoke(app, ["eval", "closed-loop", "examples/scenarios/city-small.yaml", "--app", app_name,
                                      "--policy", "all", "--speed", "1800", "--duration", "1h", "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["policy"]: r for r in json.loads(out.read_text())}
    assert list(rows) == ["none", "reactive", "forecast", "oracle"]
    for row in rows.values():
        assert row["indications"] > 0 and row["dropped_indications"] == 0 and row["controls_failed"] == 0
    assert rows["oracle"]["xapp"]["oracle_failures"] <= 1  # at most the very first read, before e2sim's first tick
    assert rows["none"]["controls_ok"] == 0 and rows["none"]["energy_saving_pct"] == 0
    if app_name == "energy-saving":  # night: every policy switches capacity cells off, the oracle too
        assert all(rows[p]["energy_saving_pct"] > 5 for p in ("reactive", "forecast", "oracle"))
