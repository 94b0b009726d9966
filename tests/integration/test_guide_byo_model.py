"""The README's "bring your own model" guide: the example model passes the shared conformance
check, benchmarks next to zoo models from the example config, and exports to a registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="models train with torch: pip install 'ranml[benchmark]'")

from typer.testing import CliRunner

from ranml.cli.app import app as cli

ROOT = Path(__file__).resolve().parents[2]
BYO = ROOT / "examples" / "byo"

pytestmark = pytest.mark.integration


def test_byo_model_benchmark_and_export(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BYO))
    sys.modules.pop("my_models", None)
    from ranml.benchmark.models.conformance import check_model

    result = check_model("my_models:TwoLayerLinear", params={"hidden": 8}, epochs=2)  # raises when it does not conform
    assert result.onnx_max_abs_diff is not None and result.onnx_max_abs_diff < 1e-3
    assert result.best_val_loss <= result.first_val_loss
    runner = CliRunner()
    out = runner.invoke(cli, ["benchmark", "run", str(BYO / "benchmark.yaml"), "--out", str(tmp_path / "byo")])
    assert out.exit_code == 0, out.output
    board = json.loads((tmp_path / "byo" / "leaderboard.json").read_text())
    assert {r["model"]: r["status"] for r in board} == {"two-layer-linear": "ok", "persistence": "ok", "nlinear": "ok"}
    out = runner.invoke(cli, ["export", "--run", str(tmp_path / "byo"), "--model", "two-layer-linear", "--format",
                              "onnx", "--registry", str(tmp_path / "reg")])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["registry", "list", "--registry", str(tmp_path / "reg"), "--json"])
    assert "two-layer-linear" in out.output
