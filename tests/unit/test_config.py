from pathlib import Path

import pytest
from pydantic import ValidationError

from ranml.benchmark.config import BenchmarkConfig
from ranml.config import RanmlModel, load_yaml
from ranml.errors import ConfigError

GOOD = """\
name: t
datasets:
  - name: d
    source: {kind: synth, cells: 4}
models:
  - name: lstm
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_good_config_loads_and_is_frozen(tmp_path):
    cfg = load_yaml(write(tmp_path, GOOD), BenchmarkConfig)
    assert cfg.datasets[0].source.kind == "synth"
    with pytest.raises(ValidationError):
        cfg.name = "other"  # type: ignore[misc]


def test_bad_value_names_file_line_and_path(tmp_path):
    text = GOOD + "train:\n  epochs: -3\n"
    with pytest.raises(ConfigError) as err:
        load_yaml(write(tmp_path, text), BenchmarkConfig)
    msg = str(err.value)
    assert "c.yaml:8" in msg
    assert "train.epochs" in msg
    assert "-3" in msg


def test_unknown_key_lists_allowed_keys(tmp_path):
    text = GOOD.replace("  - name: lstm\n", "  - name: lstm\n    epochz: 3\n")
    with pytest.raises(ConfigError) as err:
        load_yaml(write(tmp_path, text), BenchmarkConfig)
    msg = str(err.value)
    assert "models[0].epochz: unknown key" in msg
    assert "params" in msg and "tune" in msg
    assert "c.yaml:7" in msg


def test_nested_list_path_and_discriminator(tmp_path):
    text = GOOD.replace("kind: synth, cells: 4", "kind: synth, cells: zero")
    with pytest.raises(ConfigError, match=r"datasets\[0\]\.source\.synth\.cells|datasets\[0\]\.source"):
        load_yaml(write(tmp_path, text), BenchmarkConfig)


def test_missing_required_field(tmp_path):
    with pytest.raises(ConfigError, match="models: required field is missing"):
        load_yaml(write(tmp_path, "datasets:\n  - name: d\n    source: {kind: synth}\n"), BenchmarkConfig)


def test_yaml_syntax_error_has_line(tmp_path):
    with pytest.raises(ConfigError, match=r"c.yaml:3: invalid YAML"):
        load_yaml(write(tmp_path, "a: 1\nb: [1, 2\nc: 3\n"), BenchmarkConfig)


def test_empty_missing_and_non_mapping_files(tmp_path):
    with pytest.raises(ConfigError, match="empty"):
        load_yaml(write(tmp_path, ""), BenchmarkConfig)
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(tmp_path / "nope.yaml", BenchmarkConfig)
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_yaml(write(tmp_path, "- 1\n- 2\n"), BenchmarkConfig)


def test_duplicate_model_names_rejected(tmp_path):
    text = GOOD + "  - name: lstm\n"
    with pytest.raises(ConfigError, match="duplicate model names"):
        load_yaml(write(tmp_path, text), BenchmarkConfig)


def test_base_model_forbids_extra():
    class M(RanmlModel):
        a: int = 1

    with pytest.raises(ValidationError):
        M(b=2)  # type: ignore[call-arg]


def test_example_configs_validate():
    root = Path(__file__).resolve().parents[2] / "examples"
    for name in ("benchmark-quick.yaml", "benchmark-full.yaml"):
        cfg = load_yaml(root / name, BenchmarkConfig)
        assert {m.name for m in cfg.models} >= {"persistence", "lstm", "patchtst", "convlstm"}
