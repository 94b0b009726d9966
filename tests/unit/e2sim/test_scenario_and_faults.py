"""Scenario validation (errors name the field) and the fault injector."""

import pytest

from ranml.e2sim.faults import FaultInjector
from ranml.e2sim.scenario import FaultSpec, Scenario, load_scenario
from ranml.errors import ConfigError


def test_examples_load():
    city = load_scenario("examples/scenarios/city-small.yaml")
    assert len(city.all_nodes()) == 3 and all(len(n.cells) == 3 for n in city.all_nodes())
    faults = load_scenario("examples/scenarios/faults.yaml")
    assert {f.kind for f in faults.faults} == {"delay", "drop", "duplicate", "corrupt", "disconnect", "restart"}


def test_bad_scenario_names_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nspeed: -3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: speed"):
        load_scenario(bad)
    bad.write_text("name: x\nfaults:\n  - {at: 1h, kind: explode}\n")
    with pytest.raises(ConfigError, match=r"faults\[0\].kind"):
        load_scenario(bad)
    bad.write_text("duration: soon\n")
    with pytest.raises(ConfigError, match="not a duration"):
        load_scenario(bad)
    bad.write_text("faults:\n  - {at: 1h, kind: restart, node: gnb_999}\n")
    with pytest.raises(ConfigError, match="unknown node 'gnb_999'"):
        load_scenario(bad)
    bad.write_text("topology: {gnbs: 1}\nnodes: [{name: a, gnb_id: 1, cells: [{name: a1}]}]\n")
    with pytest.raises(ConfigError, match="not both"):
        load_scenario(bad)
    bad.write_text("traffic: {source: file}\n")
    with pytest.raises(ConfigError, match="traffic.path is required"):
        load_scenario(bad)


def test_faults_file_is_merged(tmp_path):
    (tmp_path / "f.yaml").write_text("faults:\n  - {at: 5min, kind: drop, percent: 50}\n")
    (tmp_path / "s.yaml").write_text("faults_file: f.yaml\nfaults:\n  - {at: 1min, kind: disconnect}\n")
    assert [f.kind for f in load_scenario(tmp_path / "s.yaml").faults] == ["disconnect", "drop"]


def test_injector_windows_and_effects():
    inj = FaultInjector([FaultSpec(at="10s", kind="drop", duration="10s", percent=100),
                         FaultSpec(at="30s", kind="duplicate", duration="10s", percent=100),
                         FaultSpec(at="30s", kind="corrupt", duration="10s", percent=100, corrupt_bytes=2),
                         FaultSpec(at="50s", kind="delay", duration="10s", delay_ms=20, jitter_ms=5),
                         FaultSpec(at="70s", kind="restart", duration="5s", node="n1")])
    payload = bytes(range(32))
    assert inj.outgoing(5.0, payload).payloads == (payload,)
    assert inj.outgoing(15.0, payload).payloads == ()
    dup = inj.outgoing(35.0, payload)
    assert len(dup.payloads) == 2 and dup.payloads[0] != payload and len(dup.payloads[0]) == 32
    delayed = inj.outgoing(55.0, payload)
    assert 0.015 <= delayed.delay_s <= 0.025
    moves = inj.transitions(60.0, 80.0)
    assert [(t.fault.kind, t.starting) for t in moves] == [("restart", True), ("restart", False)]
    assert inj.counters() == {"dropped": 1, "duplicated": 1, "corrupted": 1, "delayed": 1}


def test_topology_shorthand_names():
    nodes = Scenario(topology={"gnbs": 2, "cells_per_gnb": 2}).all_nodes()
    assert [c.name for n in nodes for c in n.cells] == ["gnb_001_c1", "gnb_001_c2", "gnb_002_c1", "gnb_002_c2"]
