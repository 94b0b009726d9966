"""Shared test fixtures: optional-dependency gates computed once, small configs, free ports."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_ORT = importlib.util.find_spec("onnxruntime") is not None
HAS_DASK = importlib.util.find_spec("distributed") is not None

requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed: pip install 'ranml[benchmark]'")
requires_ort = pytest.mark.skipif(not HAS_ORT, reason="onnxruntime not installed: pip install 'ranml[benchmark]'")

TINY_CONFIG = """\
name: tiny
seed: 3
datasets:
  - name: tiny-city
    grid: true
    source: {{kind: synth, cells: 4, days: 6, step: 1h, seed: 5}}
    windows:
      input_steps: 24
      horizon: 2
      features: [prb_util]
      max_train_windows: 300
      max_val_windows: 100
models:
{models}
train: {{epochs: 2, batch_size: 64, lr: 0.003, patience: 2}}
kpis: {{latency_calls: 100, warmup: 5, throughput_batch: 8}}
"""


def tiny_config(tmp_path: Path, models: str = "  - name: persistence\n  - name: nlinear\n",
                name: str = "tiny.yaml") -> Path:
    """Write the tiny benchmark config with the given ``models:`` block."""
    path = tmp_path / name
    path.write_text(TINY_CONFIG.format(models=models))
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def compile_with_pycrate(texts: list[str], out: Path, name: str):
    """An ASN.1 specification compiled by pycrate's compiler into an importable module (an independent codec).

    pycrate's compiler keeps its state in a process-global object; it is cleared first so that several
    specifications can be compiled in one test session.
    """
    import sys

    from pycrate_asn1c import asnproc
    from pycrate_asn1c.glob import GLOBAL

    GLOBAL.clear()
    asnproc.compile_text(texts)
    asnproc.generate_modules(asnproc.PycrateGenerator, str(out))
    spec = importlib.util.spec_from_file_location(name, out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def univariate_registry(root: Path, name: str, model: str, input_steps: int, horizon: int, *, cells: int,
                        seed: int, target: str | None = None, versions: tuple[str, ...] = ("1.0.0", "1.1.0")):
    """A local registry with ``versions`` of ``model`` trained on synthetic hourly data (no features, no
    calendar: what a dApp or a day-ahead rApp serves), ``champion`` on the first; needs torch."""
    from ranml.benchmark import ModelShape, TrainSettings, WindowSpec, build_model, make_windows
    from ranml.export import ExportGates, export_model
    from ranml.serving import LocalRegistry
    from ranml.telemetry import generate

    spec = {"target": target} if target else {}
    data = make_windows(generate(cells=cells, days=6, step="1h", seed=seed),
                        WindowSpec(input_steps=input_steps, horizon=horizon, features=[], calendar=False,
                                   max_train_windows=300, split={"train": 0.6, "val": 0.2}, **spec))
    reg = LocalRegistry(root)
    for version in versions:
        built = build_model(model, ModelShape(input_steps, horizon, 1, 0, 24))
        built.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"], TrainSettings(epochs=1))
        r = export_model(built, data, model, "onnx", ExportGates(windows=16))
        reg.register(name, r.files, r.manifest.model_dump(mode="json"), version=version)
    reg.set_alias(name, "champion", versions[0], by="test")
    return reg
