"""Real OSC descriptors (kpimon-go, traffic steering, the onboarding guide's example) validate; broken ones are refused.

The files in ``tests/data/osc-descriptors`` are unmodified copies (PROVENANCE.md names repository,
commit and path). What is expected of them comes from the OSC onboarder: its ``xApp_builder.py``
takes ``name`` when present, else ``xapp_name``.
"""

import copy
import json
from pathlib import Path

import pytest

pytest.importorskip("jsonschema", reason="descriptor validation needs jsonschema")

from typer.testing import CliRunner

from ranml.cli.app import app as cli
from ranml.xapp.apps.traffic_steering import app as TS_APP
from ranml.xapp.descriptor import build_descriptor, descriptor_name, validate_descriptor

DATA = Path(__file__).parents[2] / "data" / "osc-descriptors"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def test_kpimon_go_and_traffic_steering_descriptors_validate_with_xapp_name():
    kpimon = load("kpimon-go.config.json")
    assert "name" not in kpimon and descriptor_name(kpimon) == "kpimon-go"
    assert validate_descriptor(kpimon) == []
    ts = load("ts.config-file.json")
    assert descriptor_name(ts) == "trafficxapp"
    assert validate_descriptor(ts, load("ts.schema.json")) == []


def test_the_guide_example_validates_under_the_guide_schema_only():
    guide = load("appmgr-guide.config-file.json")
    assert validate_descriptor(guide, root=load("appmgr-embedded-schema.json")) == []
    problems = validate_descriptor(guide)  # the onboarder API's schema: command is a list, metrics an object
    assert [p.split(":")[0] for p in problems] == ["$.containers[0].command", "$.metrics"]


def test_a_descriptor_without_a_name_or_with_two_names_is_refused_naming_the_field():
    kpimon = load("kpimon-go.config.json")
    nameless = {k: v for k, v in kpimon.items() if k != "xapp_name"}
    problems = validate_descriptor(nameless)
    assert len(problems) == 1 and problems[0].startswith("$.name:") and '"xapp_name"' in problems[0]
    two = {**kpimon, "name": "kpimon"}
    assert any(p.startswith("$.xapp_name:") and "differs" in p for p in validate_descriptor(two))
    empty = {**kpimon, "xapp_name": ""}
    assert any(p.startswith("$.xapp_name:") for p in validate_descriptor(empty))
    wrong = copy.deepcopy(load("ts.config-file.json"))
    wrong["controls"]["ts_control_api"] = 5
    assert any(p.startswith("$.controls.ts_control_api:") for p in validate_descriptor(wrong, load("ts.schema.json")))


def test_a_generated_descriptor_carries_both_names():
    d = build_descriptor(TS_APP)
    assert d["name"] == d["xapp_name"] == TS_APP.name == descriptor_name(d)
    assert validate_descriptor(d, TS_APP.config_schema()) == []


def test_cli_validates_the_real_descriptors(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["xapp", "validate-descriptor", str(DATA / "kpimon-go.config.json")]).exit_code == 0
    res = runner.invoke(cli, ["xapp", "validate-descriptor", str(DATA / "appmgr-guide.config-file.json"),
                              "--root-schema", str(DATA / "appmgr-embedded-schema.json")])
    assert res.exit_code == 0, res.output
    broken = tmp_path / "config-file.json"
    broken.write_text(json.dumps({k: v for k, v in load("kpimon-go.config.json").items() if k != "xapp_name"}))
    res = runner.invoke(cli, ["xapp", "validate-descriptor", str(broken)])
    assert res.exit_code == 1 and "$.name" in res.output
