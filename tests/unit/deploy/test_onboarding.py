"""``ranml xapp onboard`` writes a bundle the OSC onboarder and the ranml chart accept; the
onboarding doc's ``ranml`` commands are the ones that work."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

pytest.importorskip("helm_python", reason="the Helm engine is missing: pip install 'ranml[deploy]'")

import jsonschema
from typer.testing import CliRunner

from ranml.cli.app import app as cli
from ranml.deploy.helm import assembled_chart
from ranml.deploy.onboard import write_onboarding_bundle
from ranml.errors import ConfigError
from ranml.xapp.descriptor import validate_descriptor

ROOT = Path(__file__).resolve().parents[3]


def test_bundle_validates_and_renders_with_the_chart(tmp_path):
    import helm_python

    files = write_onboarding_bundle("traffic-steering", tmp_path, image_tag="1.0.0")
    descriptor = json.loads(files["descriptor"].read_text())
    schema = json.loads(files["schema"].read_text())
    assert validate_descriptor(descriptor, schema) == []
    jsonschema.Draft7Validator(schema).validate(descriptor["controls"])
    container = descriptor["containers"][0]
    assert container["command"] == ["ranml"] and container["args"][:3] == ["xapp", "run", "traffic-steering"]
    assert 20008 in descriptor["messaging"]["ports"][2]["policies"]
    values = yaml.safe_load(files["values"].read_text())
    with assembled_chart(ROOT / "helm", "ranml-xapp") as chart_dir:
        rendered = helm_python.Chart.load(str(chart_dir)).render(values, name="traffic-steering", namespace="ricxapp")
    cm = next(d for d in yaml.safe_load_all(rendered["ranml-xapp/templates/configmap.yaml"]) if d)
    assert json.loads(cm["data"]["config-file.json"]) == descriptor
    assert "dms_cli onboard" in files["steps"].read_text()


def test_bundle_refuses_an_unknown_app(tmp_path):
    with pytest.raises(ConfigError):
        write_onboarding_bundle("no-such-app", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def _doc_commands() -> list[str]:
    text = (ROOT / "docs" / "onboarding.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith("ranml ")]


def test_onboarding_doc_commands_run(tmp_path, monkeypatch):
    commands = _doc_commands()
    assert any(c.startswith("ranml xapp onboard") for c in commands)
    assert any(c.startswith("ranml helm check") for c in commands)
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    for command in commands:
        args = [a.replace("build/", f"{tmp_path}{os.sep}") for a in shlex.split(command)[1:]]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, f"{command}\n{result.output}"
    assert (tmp_path / "onboard" / "energy-saving" / "config-file.json").is_file()
    assert (tmp_path / "onboard" / "rendered" / "turin-suburban-cpu" / "energy-saving").is_dir()
