"""The README's "write your own xApp" guide: examples/my_xapp.py loads from its file path, its
descriptor validates, and it runs against e2sim over RMR (reports in, handovers out)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")
pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")

from typer.testing import CliRunner

from ranml.cli.app import app as cli
from ranml.evaluation import AppRun, run_session
from ranml.xapp.loader import load_app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "my_xapp.py")
SCENARIO = """\
name: guide
speed: 600
duration: 3h
start: "2026-03-02T08:00:00"
topology: {gnbs: 2, cells_per_gnb: 3, capacity_mbps: 300}
traffic: {source: synth, days: 1, seed: 3, peak_low: 0.9, peak_high: 1.3}
"""


def test_example_xapp_descriptor_and_closed_loop(tmp_path):
    app = load_app(f"{EXAMPLE}:app")
    assert app.name == "load-watch" and app.requestor_id == 1101
    result = CliRunner().invoke(cli, ["xapp", "descriptor", f"{EXAMPLE}:app", "--out", str(tmp_path / "d.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "d.json").read_text())["controls"] == {"high": 0.8, "window": 6}
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    out = run_session(scenario, [AppRun(f"{EXAMPLE}:app", {"high": 0.7})], tmp_path, tag="guide")
    counters = out["apps"][f"{EXAMPLE}:app"]["counters"]
    assert counters["indications"] > 50 and counters["malformed"] == 0 and counters["controls_ok"] >= 1
    assert 'ranml_xapp_handler_errors_total{xapp="load-watch"} 0.0' in out["apps"][f"{EXAMPLE}:app"]["metrics_text"]
    assert out["truth"]["totals"]["handovers_ok"] >= 1  # the forecast crossed the threshold and it acted


def test_readme_closed_loop_command_runs_the_example(tmp_path):
    out = tmp_path / "mine.json"
    result = CliRunner().invoke(cli, ["eval", "closed-loop", str(ROOT / "examples" / "scenarios" / "city-small.yaml"),
                                      "--app", f"{EXAMPLE}:app", "--policy", "none", "--duration", "2h",
                                      "--speed", "2400", "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    rows = rows if isinstance(rows, list) else [rows]
    assert rows[0]["policy"] == "none" and rows[0]["indications"] > 50 and rows[0]["dropped_indications"] == 0
