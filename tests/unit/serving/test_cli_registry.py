import json

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch", reason="export needs torch")

from conftest import tiny_config
from ranml.benchmark import load_benchmark_config, run_benchmark
from ranml.cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    cfg = load_benchmark_config(tiny_config(tmp, "  - name: nlinear\n  - name: lstm\n    params: {hidden: 8}\n"))
    run_benchmark(cfg, tmp / "out")
    return tmp / "out"


def invoke(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res.exit_code, res.output


def test_export_register_promote_rollback_diff(run_dir, tmp_path):
    reg = tmp_path / "reg"
    code, out = invoke("export", "--run", run_dir, "--model", "lstm", "--format", "onnx", "--registry", reg)
    assert code == 0, out
    first = json.loads(out)
    assert first["version"] == "1.0.0" and first["parity"]["max_abs_err"] <= 1e-4
    assert first["lineage"]["job_id"].startswith("tiny-city__h2__lstm__")
    code, out = invoke("export", "--run", run_dir, "--model", "lstm", "--format", "onnx-int8", "--registry", reg,
                       "--int8-bound", "50")
    assert code == 0, out
    assert json.loads(out)["version"] == "1.1.0"
    assert invoke("registry", "promote", "lstm", "1.0.0", "--registry", reg, "--reason", "first")[0] == 0
    assert invoke("registry", "promote", "lstm", "1.1.0", "--registry", reg, "--reason", "int8")[0] == 0
    code, out = invoke("registry", "rollback", "lstm", "--registry", reg, "--reason", "too slow")
    assert code == 0 and json.loads(out)["to"] == "1.0.0"
    code, out = invoke("registry", "diff", "lstm", "1.0.0", "1.1.0", "--registry", reg)
    assert code == 0 and json.loads(out)["changed"]["format"] == {"a": "onnx", "b": "onnx-int8"}
    code, out = invoke("registry", "show", "lstm", "champion", "--registry", reg, "--json")
    shown = json.loads(out)
    assert shown["version"] == "1.0.0" and [h["reason"] for h in shown["history"]] == ["first", "int8", "too slow"]
    code, out = invoke("registry", "list", "--registry", reg, "--json")
    assert json.loads(out) == [{"name": "lstm", "versions": ["1.0.0", "1.1.0"], "aliases": {"champion": "1.0.0"}}]
    assert invoke("registry", "check", "--registry", reg) == (0, "registry ok\n")


def test_tampered_registry_fails_check_and_load(run_dir, tmp_path):
    reg = tmp_path / "reg"
    assert invoke("export", "--run", run_dir, "--model", "nlinear", "--registry", reg)[0] == 0
    blob = next((reg / "blobs" / "sha256").iterdir())
    blob.write_bytes(b"tampered")
    code, out = invoke("registry", "check", "--registry", reg)
    assert code == 1 and "integrity check" in out


def test_export_errors_are_clean(run_dir, tmp_path):
    code, out = invoke("export", "--run", run_dir, "--model", "prophet", "--registry", tmp_path / "r")
    assert code == 4 and "no job for model 'prophet'; have: lstm" in out
    code, out = invoke("export", "--run", tmp_path, "--model", "lstm", "--registry", tmp_path / "r")
    assert code == 4 and "not a finished benchmark results folder" in out
    code, out = invoke("registry", "promote", "lstm", "1.0", "--registry", tmp_path / "r")
    assert code == 7 and "no model 'lstm'" in out
