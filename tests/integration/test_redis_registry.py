"""The Redis registry backend against a real Redis server (127.0.0.1:6379, started by .ci/run)."""

import json
import uuid

import pytest

redis = pytest.importorskip("redis", reason="the Redis backend needs redis: pip install 'ranml[serving]'")

from conftest import free_port
from ranml.errors import RegistryError
from ranml.serving.redis_registry import RedisRegistry

pytestmark = pytest.mark.integration


@pytest.fixture
def client():
    c = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
    try:
        c.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379 (.ci/run starts one)")
    yield c
    c.close()


@pytest.fixture
def reg(client):
    prefix = f"ranml-test:{uuid.uuid4().hex}"
    yield RedisRegistry(client, prefix)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_register_load_versions(reg):
    reg.register("m", {"model": b"one", "original": b"orig"}, {"format": "onnx"}, by="t")
    reg.register("m", {"model": b"two"}, {"format": "onnx"}, version="1.5.0")
    assert reg.models() == ["m"] and reg.versions("m") == ["1.0.0", "1.5.0"]
    assert reg.load("m", "1.5.0")[0] == b"two" and reg.load("m", "1.0.0", "original")[0] == b"orig"
    assert reg.next_version("m") == "1.6.0"
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("m", {"model": b"x"}, {}, version="1.5.0")
    assert reg.check() == []


def test_alias_moves_are_published_and_rolled_back(reg):
    for i in range(3):
        reg.register("m", {"model": f"v{i}".encode()}, {})
    sub = reg.subscribe("m")
    try:
        reg.set_alias("m", "champion", "1.0.0", reason="first")
        reg.set_alias("m", "champion", "1.1.0", reason="better")
        reg.set_alias("m", "site/milan-01", "1.2.0", reason="idle site")
        back = reg.rollback("m", "champion", reason="regression")
        assert back["to"] == "1.0.0"
        received = []
        for _ in range(50):
            msg = sub.get_message(timeout=0.1)
            if msg:
                received.append(json.loads(msg["data"]))
            if len(received) == 4:
                break
    finally:
        sub.close()
    assert [(m["alias"], m["to"], m["action"]) for m in received] == [
        ("champion", "1.0.0", "set"), ("champion", "1.1.0", "set"), ("site/milan-01", "1.2.0", "set"),
        ("champion", "1.0.0", "rollback")]
    assert all(m["model"] == "m" for m in received)
    assert reg.aliases("m") == {"champion": "1.0.0", "site/milan-01": "1.2.0"}
    assert [h["reason"] for h in reg.history("m", "champion")] == ["first", "better", "regression"]


def test_tampered_blob_is_refused(reg, client):
    rec = reg.register("m", {"model": b"weights"}, {})
    client.set(f"{reg.prefix}:blob:{rec.blobs['model']}", b"evil")
    with pytest.raises(RegistryError, match="fails its integrity check"):
        reg.load("m", "1.0.0")
    assert reg.check()


def test_unreachable_redis_is_a_clear_error():
    dead = RedisRegistry(redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5))
    with pytest.raises(RegistryError, match="unavailable"):
        dead.models()


def test_open_registry_picks_the_backend(tmp_path):
    from ranml.serving import LocalRegistry, open_registry

    assert isinstance(open_registry("redis://127.0.0.1:6379/0"), RedisRegistry)
    assert open_registry("redis://127.0.0.1:6379/0").where.startswith("redis://127.0.0.1:6379/0")
    assert isinstance(open_registry(tmp_path / "reg"), LocalRegistry)
