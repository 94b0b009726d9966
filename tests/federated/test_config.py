"""A broken federated config is refused with the field, the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ranml.errors import ConfigError
from ranml.federated import load_federation_config

ROOT = Path(__file__).resolve().parents[2]

SITES = """\
sites:
  - {name: a, source: {kind: synth, cells: 4, days: 6, step: 1h, seed: 1}}
  - {name: b, source: {kind: synth, cells: 4, days: 6, step: 1h, seed: 2}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fl.yaml"
    path.write_text(text)
    return path


def test_the_shipped_example_loads() -> None:
    cfg = load_federation_config(ROOT / "examples/fl.yaml")
    assert len(cfg.sites) == 4 and cfg.strategy.name == "fedavg"
    mixes = {s.name: s.source.business_range for s in cfg.sites}
    assert mixes["business"][0] > mixes["residential"][1], "the example's sites must differ in traffic mix"


@pytest.mark.parametrize(("text", "expected"), [
    ("name: x\n" + SITES + "strategy: {name: fedsgd}\n", "strategy.name"),
    ("name: x\n" + SITES + "strategy: {min_train_sites: 5}\n", "min_train_sites=5 is more than the 2 sites"),
    ("name: x\n" + SITES + "strategy: {name: fedtrimmedavg}\n", "at least 3"),
    ("name: x\n" + SITES + "rounds: 0\n", "rounds"),
    ("name: x\n" + SITES + "local: {epochs: 2, lr: -1}\n", "local.lr"),
    ("name: x\nsites:\n  - {name: a, source: {kind: synth}}\n", "at least two sites"),
    ("name: x\nsites:\n  - {name: a, source: {kind: synth}}\n  - {name: a, source: {kind: synth}}\n",
     "repeated: ['a']"),
    ("name: x\n" + SITES + "sites_typo: 1\n", "sites_typo"),
    ("name: x\n" + SITES.replace("seed: 2}", "seed: 2, business_range: [0.9, 1.5]}"), "business_range"),
    ("name: x\n" + SITES.replace("seed: 2}}", "seed: 2}, faults: {malformed: zeros}}"), "faults.malformed"),
])
def test_bad_values_name_the_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_federation_config(write(tmp_path, text))
    assert expected in str(err.value)
    assert "fl.yaml" in str(err.value)


def test_the_cli_refuses_a_broken_config_with_the_field_and_exit_code_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ranml.cli.app import app

    path = write(tmp_path, "name: x\n" + SITES + "rounds: -1\n")
    for command in (["fl", "run", str(path), "--out", str(tmp_path / "o")], ["sl", "run", str(path), "--out",
                                                                             str(tmp_path / "o")]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "fl.yaml" in result.output


def test_the_shipped_split_example_loads_and_its_cuts_are_valid() -> None:
    pytest.importorskip("torch")
    from ranml.federated import list_cuts, load_split_config

    cfg = load_split_config(ROOT / "examples/sl.yaml")
    valid = {c["cut"] for c in list_cuts(cfg)}
    assert set(cfg.cuts) <= valid and len(cfg.cuts) >= 3


def test_an_invalid_cut_is_refused_before_anything_starts(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from ranml.errors import FederationError
    from ranml.federated import load_split_config, run_split

    cfg = load_split_config(ROOT / "examples/sl.yaml").model_copy(update={"cuts": ["head"]})
    with pytest.raises(FederationError, match=r"valid: \['1'"):
        run_split(cfg, tmp_path / "sl")
    assert not (tmp_path / "sl" / "cuts").exists()
