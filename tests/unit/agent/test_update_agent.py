"""The update agent: each policy on a small simulation, config errors, and the agent acting on a
real local registry (site aliases, drift -> retrain -> challenger -> update)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("river", reason="drift detection needs river: pip install 'ranml[lifecycle]'")

from ranml.agent import DriftMonitor, UpdateAgent, make_policy
from ranml.agent.policies import SiteStatus
from ranml.agent.simulate import AgentSimConfig, simulate, write_report
from ranml.cli.app import app as cli
from ranml.config import parse_mapping
from ranml.errors import ConfigError, DeployError
from ranml.serving.registry import LocalRegistry

SMALL = {"sites": 6, "days": 12, "step_h": 1, "major_every_days": 4, "minor_every_days": 1,
         "drift": {"events_per_site": 1.0, "magnitude": 0.8, "min_days": 2, "max_days": 4}}


def test_each_policy_on_a_small_simulation(tmp_path):
    result = simulate(parse_mapping(AgentSimConfig, SMALL))
    rows = {r["policy"]: r for r in result["policies"]}
    assert set(rows) == {"always", "never", "random", "load-based", "drift"}
    for r in rows.values():
        assert set(r) >= {"policy", "mean_error", "sla_violations", "updates", "downtime_s"}
    assert rows["never"]["updates"] == 0 and rows["never"]["downtime_s"] == 0
    assert rows["always"]["updates"] > 0 and rows["always"]["mean_error"] < rows["never"]["mean_error"]
    # the quiet-hour policy waits (sometimes skipping a version), never updating a busy site
    assert 0 < rows["load-based"]["updates"] <= rows["always"]["updates"]
    assert rows["load-based"]["sla_violations"] < rows["always"]["sla_violations"]
    # drift: the detector fires, the retrained site versions bring the error below never's
    assert 0 < rows["drift"]["updates"] < rows["always"]["updates"]
    assert rows["drift"]["mean_error"] < rows["never"]["mean_error"]
    assert rows["drift"]["downtime_s"] == rows["drift"]["updates"] * 30
    page = write_report(result, tmp_path / "report")
    assert page.read_text().count("<svg") == 2


@pytest.mark.parametrize(("data", "field"), [
    ({"policies": ["always", "sometimes"]}, "policies"),
    ({"sites": 0}, "sites"),
    ({"releases": [{"day": 1, "kind": "patch"}]}, "releases"),
    ({"drift": {"magnitude": -1}}, "drift.magnitude"),
])
def test_config_errors_name_the_field(data, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        parse_mapping(AgentSimConfig, data)


def test_cli_simulate(tmp_path):
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(json.dumps({**SMALL, "policies": ["always", "never"]}))
    result = CliRunner().invoke(cli, ["agent", "simulate", str(cfg), "--json", str(tmp_path / "out.json"),
                                      "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    out = json.loads((tmp_path / "out.json").read_text())
    assert [p["policy"] for p in out["policies"]] == ["always", "never"]
    assert (tmp_path / "r" / "index.html").is_file()


def test_policies_give_reasons():
    status = SiteStatus("a", load=0.7, current="1.0.0", candidate="1.1.0")
    assert make_policy("load-based", threshold=0.3).should_update(status) == (False, "site busy (load 0.70 >= 0.30)")
    assert make_policy("always").should_update(status)[0]
    assert make_policy("drift").should_update(status) == (False, "no drift detected")
    with pytest.raises(ConfigError, match="unknown update policy"):
        make_policy("often")


def _register(reg, version):
    return reg.register("load", {"model": f"model {version}".encode()}, {"name": "load"}, version=version)


def test_agent_moves_site_aliases_with_reasons(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    _register(reg, "1.0.0")
    reg.set_alias("load", "site/milan", "1.0.0", by="test", reason="initial")
    agent = UpdateAgent(reg, "load", make_policy("load-based", threshold=0.3))
    assert not agent.step("milan", 0.2).update  # nothing newer
    _register(reg, "1.1.0")
    busy = agent.step("milan", 0.8)
    assert not busy.update and "busy" in busy.reason and agent.current("milan") == "1.0.0"
    quiet = agent.step("milan", 0.1)
    assert quiet.update and quiet.applied and agent.current("milan") == "1.1.0"
    history = reg.history("load")
    assert history[-1]["alias"] == "site/milan" and "site quiet" in history[-1]["reason"]
    with pytest.raises(DeployError, match="DriftMonitor"):
        UpdateAgent(reg, "load", make_policy("drift"))


def test_drift_triggers_retrain_and_the_update(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    _register(reg, "1.0.0")
    reg.set_alias("load", "site/turin", "1.0.0", by="test")
    retrained = []

    def retrain(site):
        retrained.append(site)
        return _register(reg, "1.0.1").version

    agent = UpdateAgent(reg, "load", make_policy("drift"), drift=DriftMonitor("adwin", scale=0.01), retrain=retrain)
    rng = np.random.default_rng(3)
    fired = False
    for value in np.concatenate([0.1 + 0.01 * rng.normal(size=300), 0.2 + 0.01 * rng.normal(size=200)]):
        fired = agent.observe("turin", value) or fired
        if fired:
            break
    assert fired and retrained == ["turin"] and reg.aliases("load")["challenger"] == "1.0.1"
    decision = agent.step("turin", 0.9)
    assert decision.update and decision.candidate == "1.0.1" and agent.current("turin") == "1.0.1"
    assert not agent.step("turin", 0.9).update  # drift handled: back to waiting
