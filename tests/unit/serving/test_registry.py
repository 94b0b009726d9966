import json
import subprocess
import sys

import pytest

from ranml.errors import RegistryError
from ranml.serving import LocalRegistry
from ranml.serving.registry import parse_version

MANIFEST = {"name": "m", "format": "onnx", "kpis": {"mae": 1.0}}


def reg_with_versions(tmp_path, n=2):
    reg = LocalRegistry(tmp_path / "reg")
    for i in range(n):
        reg.register("m", {"model": f"model-{i}".encode(), "original": b"orig"},
                     {**MANIFEST, "kpis": {"mae": 1.0 - i / 10}}, by="tester", note=f"v{i}")
    return reg


def test_register_versions_and_load_verified(tmp_path):
    reg = reg_with_versions(tmp_path)
    assert reg.models() == ["m"] and reg.versions("m") == ["1.0.0", "1.1.0"]
    data, rec = reg.load("m", "1.1.0")
    assert data == b"model-1" and rec.registered_by == "tester" and rec.note == "v1"
    assert reg.load("m", "1.0.0", "original")[0] == b"orig"
    # identical content is stored once
    assert len(list((tmp_path / "reg" / "blobs" / "sha256").iterdir())) == 3


def test_explicit_versions_semver_and_immutability(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    reg.register("m", {"model": b"a"}, MANIFEST, version="2.3.4")
    assert reg.next_version("m") == "2.4.0" and reg.next_version("m", "major") == "3.0.0"
    assert reg.next_version("m", "patch") == "2.3.5"
    with pytest.raises(RegistryError, match="already registered; versions are immutable"):
        reg.register("m", {"model": b"b"}, MANIFEST, version="2.3.4")
    with pytest.raises(RegistryError, match="not semantic"):
        reg.register("m", {"model": b"b"}, MANIFEST, version="2.3")
    with pytest.raises(RegistryError, match="role 'model'"):
        reg.register("m", {"weights": b"b"}, MANIFEST)
    with pytest.raises(RegistryError, match="model name"):
        reg.register("../evil", {"model": b"b"}, MANIFEST)
    assert parse_version("10.0.1") == (10, 0, 1)
    assert reg.versions("m") == ["2.3.4"]


def test_versions_sort_semantically(tmp_path):
    reg = LocalRegistry(tmp_path / "reg")
    for v in ("1.10.0", "1.2.0", "1.9.1"):
        reg.register("m", {"model": v.encode()}, MANIFEST, version=v)
    assert reg.versions("m") == ["1.2.0", "1.9.1", "1.10.0"]


def test_tampered_artefact_is_refused(tmp_path):
    reg = reg_with_versions(tmp_path, 1)
    digest = reg.get("m", "1.0.0").blobs["model"]
    (tmp_path / "reg" / "blobs" / "sha256" / digest).write_bytes(b"evil weights")
    with pytest.raises(RegistryError, match="fails its integrity check.*refusing to load"):
        reg.load("m", "1.0.0")
    assert any("integrity" in p for p in reg.check())


def test_aliases_history_and_rollback(tmp_path):
    reg = reg_with_versions(tmp_path, 3)
    reg.set_alias("m", "champion", "1.0.0", by="ci", reason="first")
    reg.set_alias("m", "champion", "1.1.0", by="ci", reason="better mae")
    reg.set_alias("m", "site/milan-01", "1.2.0", by="agent", reason="idle site")
    assert reg.aliases("m") == {"champion": "1.1.0", "site/milan-01": "1.2.0"}
    assert reg.load("m", "champion")[1].version == "1.1.0"
    entry = reg.rollback("m", "champion", by="ops", reason="regression")
    assert (entry["from"], entry["to"], entry["action"]) == ("1.1.0", "1.0.0", "rollback")
    assert reg.aliases("m")["champion"] == "1.0.0"
    hist = reg.history("m", "champion")
    assert [h["reason"] for h in hist] == ["first", "better mae", "regression"]
    assert all({"by", "at", "from", "to"} <= set(h) for h in hist)
    with pytest.raises(RegistryError, match="no earlier version"):
        reg.rollback("m", "champion")
    with pytest.raises(RegistryError, match="no alias 'nope'"):
        reg.rollback("m", "nope")
        reg.load("m", "nope")
    with pytest.raises(RegistryError, match="alias 'bad alias' is invalid"):
        reg.set_alias("m", "bad alias", "1.0.0")
    with pytest.raises(RegistryError, match="has no version 9.9.9"):
        reg.set_alias("m", "champion", "9.9.9")


def test_diff_names_changed_fields(tmp_path):
    reg = reg_with_versions(tmp_path)
    d = reg.diff("m", "1.0.0", "1.1.0")
    assert d["changed"]["kpis"] == {"mae": {"a": 1.0, "b": 0.9}}
    assert "blobs" in d["changed"]


def test_unknown_model(tmp_path):
    with pytest.raises(RegistryError, match="no model 'x'"):
        LocalRegistry(tmp_path / "empty").get("x", "champion")


def test_importing_serving_does_not_import_torch():
    code = "import sys, ranml.serving, ranml.serving.registry, ranml.export; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_records_are_plain_json(tmp_path):
    reg_with_versions(tmp_path, 1)
    raw = json.loads((tmp_path / "reg" / "models" / "m" / "versions" / "1.0.0.json").read_text())
    assert raw["manifest"]["kpis"] == {"mae": 1.0} and len(raw["blobs"]["model"]) == 64


def test_two_rollbacks_walk_back_two_promotions(tmp_path):
    reg = reg_with_versions(tmp_path, 3)
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        reg.set_alias("m", "champion", v)
    assert reg.rollback("m", "champion")["to"] == "1.1.0"
    assert reg.rollback("m", "champion")["to"] == "1.0.0"
