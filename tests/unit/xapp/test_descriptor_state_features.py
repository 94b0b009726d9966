"""Descriptor (OSC schema), state stores (memory, Redis with outages), feature store."""

import json
import socket

import numpy as np
import pytest
from typer.testing import CliRunner

from ranml.cli.app import app as cli
from ranml.config import AppSettings
from ranml.xapp import XApp
from ranml.xapp.descriptor import build_descriptor, validate_descriptor
from ranml.xapp.features import FeatureStore
from ranml.xapp.state import MemoryStateStore, RedisStateStore

pytest.importorskip("jsonschema", reason="descriptor validation needs jsonschema")


class Settings(AppSettings):
    threshold: float = 0.8
    horizon: int = 4


def demo_app():
    app = XApp("demo-xapp", version="1.2.0", config=Settings)
    app.subscribe_kpm(("RRU.PrbUsedDl",), period_ms=1000)
    app.sends_mtype("RIC_CONTROL_REQ")
    app.uses_policy(20008)
    return app


def test_built_descriptor_validates_and_lists_messages():
    d = build_descriptor(demo_app())
    assert validate_descriptor(d, Settings.model_json_schema()) == []
    data_port = next(p for p in d["messaging"]["ports"] if p["name"] == "rmrdata")
    assert {"RIC_INDICATION", "RIC_SUB_RESP", "RIC_CONTROL_ACK", "A1_POLICY_REQ"} <= set(data_port["rxMessages"])
    assert {"RIC_SUB_REQ", "RIC_CONTROL_REQ"} <= set(data_port["txMessages"]) and data_port["policies"] == [20008]
    assert d["controls"] == {"threshold": 0.8, "horizon": 4}


def test_validation_names_the_path():
    d = build_descriptor(demo_app())
    d["version"] = "one"
    d["containers"][0]["image"].pop("tag")
    d["controls"]["threshold"] = "high"
    problems = validate_descriptor(d, Settings.model_json_schema())
    assert any(p.startswith("$.version:") for p in problems)
    assert any(p.startswith("$.containers[0].image:") and "'tag'" in p for p in problems)
    assert any(p.startswith("$.controls.threshold:") for p in problems)


def test_cli_descriptor_and_validate(tmp_path):
    runner = CliRunner()
    out = tmp_path / "config-file.json"
    res = runner.invoke(cli, ["xapp", "descriptor", "tests.unit.xapp.test_descriptor_state_features:APP",
                              "--out", str(out), "--schema-out", str(tmp_path / "schema.json")])
    assert res.exit_code == 0, res.output
    ok = runner.invoke(cli, ["xapp", "validate-descriptor", str(out), "--schema", str(tmp_path / "schema.json")])
    assert ok.exit_code == 0 and ok.output == ""
    bad = json.loads(out.read_text())
    bad["messaging"]["ports"][0].pop("port")
    out.write_text(json.dumps(bad))
    res = runner.invoke(cli, ["xapp", "validate-descriptor", str(out)])
    assert res.exit_code == 1 and "$.messaging.ports[0]: 'port' is a required property" in res.output
    assert runner.invoke(cli, ["xapp", "descriptor", "no.such.module:app"]).exit_code == 2


APP = demo_app()


def test_memory_store_roundtrip():
    s = MemoryStateStore("x")
    value = {"a": [1, 2]}
    s.set("k", value)
    value["a"].append(3)  # stored values do not change behind the store's back
    assert s.get("k") == {"a": [1, 2]} and s.keys() == ["k"]
    s.delete("k")
    assert s.get("k", 7) == 7


def redis_up(port=6379):
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not redis_up(), reason="needs a Redis server on 127.0.0.1:6379 (.ci/run starts one)")
def test_redis_store_uses_the_sdl_layout_and_survives_an_outage():
    import redis

    ns = f"ranml-test-{np.random.default_rng().integers(1 << 30)}"
    r = redis.Redis("127.0.0.1", 6379)
    try:
        s = RedisStateStore(ns, "127.0.0.1", 6379)
        s.set("model", {"version": "1.1.0"})
        assert json.loads(r.get(f"{{{ns}}},model")) == {"version": "1.1.0"}  # SDL key: {namespace},key
        again = RedisStateStore(ns, "127.0.0.1", 6379)
        assert again.load() == 1 and again.get("model") == {"version": "1.1.0"}
        # Redis "down": point the store at a closed port; it keeps serving from memory
        s.port = 1
        s._client = None
        s.set("last_action", {"cell": "c1"})
        s.delete("model")
        assert not s.available and s.get("last_action") == {"cell": "c1"} and s.outages == 1
        s.set("more", 1)
        assert s.outages == 1  # logged once per outage
        # back: the changes reach Redis
        s.port, s._client, s._next_try = 6379, None, 0.0
        s.set("after", 2)
        assert s.available
        assert json.loads(r.get(f"{{{ns}}},last_action")) == {"cell": "c1"} and r.get(f"{{{ns}}},model") is None
    finally:
        for key in r.scan_iter(match=f"{{{ns}}},*"):
            r.delete(key)


def test_feature_store_gaps_duplicates_out_of_order_and_no_allocation():
    fs = FeatureStore(("prb", "ues"), period_s=1.0, capacity=8)
    fs.add("c", 100.0, (1.0, 10.0))
    fs.add("c", 101.0, (2.0, 20.0))
    fs.add("c", 104.0, (5.0, None))  # two missing slots, a missing value
    fs.add("c", 103.0, (4.0, 40.0))  # late but still in the ring
    fs.add("c", 104.0, (5.0, 50.0))  # duplicate: replaces
    assert not fs.add("c", 90.0, (0.0, 0.0))  # older than the ring
    c = fs.counters
    assert (c.gaps, c.duplicates, c.out_of_order, c.too_old) == (2, 1, 1, 1)
    out = np.empty((5, 2))
    result = fs.window("c", 5, out)
    assert result is out
    assert out[:, 0].tolist() == [1, 2, 2, 4, 5] and out[:, 1].tolist() == [10, 20, 20, 40, 50]
    for t in range(105, 115):  # wrap the ring
        fs.add("c", float(t), (float(t), 0.0))
    assert fs.window("c", 3, np.empty((3, 2)))[:, 0].tolist() == [112, 113, 114] and fs.ready("c", 8)
