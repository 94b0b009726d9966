"""An rApp serves a registry model the way the other runtimes do: ctx.model follows its alias."""

import asyncio
import time

import numpy as np
import pytest

pytest.importorskip("torch", reason="the test exports a model with torch")
pytest.importorskip("onnxruntime", reason="the runtime needs onnxruntime")

from typer.testing import CliRunner

from ranml.benchmark import ModelShape, TrainSettings, WindowSpec, build_model, make_windows
from ranml.cli.app import app as cli
from ranml.export import ExportGates, export_model
from ranml.rapp import RApp, RAppRunner
from ranml.serving import LocalRegistry, ModelRef, ServedModel
from ranml.telemetry import generate


@pytest.fixture
def registry(tmp_path):
    data = make_windows(generate(cells=3, days=6, step="1h", seed=2),
                        WindowSpec(input_steps=24, horizon=24, features=[], calendar=False, max_train_windows=300,
                                   split={"train": 0.6, "val": 0.2}))
    reg = LocalRegistry(tmp_path / "reg")
    for version in ("1.0.0", "1.1.0"):
        model = build_model("seasonal_naive", ModelShape(24, 24, 1, 0, 24))
        model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"], TrainSettings(epochs=1))
        r = export_model(model, data, "seasonal_naive", "onnx", ExportGates(windows=16))
        reg.register("day-ahead", r.files, r.manifest.model_dump(mode="json"), version=version)
    reg.set_alias("day-ahead", "champion", "1.0.0", by="test")
    return reg


def test_ctx_model_forecasts_and_follows_the_alias(registry):
    app = RApp("planner-with-model")
    got = []

    @app.every(0.05)
    async def forecast(ctx):
        f = ctx.model.forecast(["c1"], np.full((1, 24, 1), 3.0, dtype=np.float32))
        got.append((f.version, f.values.shape))

    async def main():
        served = ServedModel(registry, ModelRef("day-ahead"), challenger_alias=None, poll_s=0.05, by="rapp:test")
        runner = RAppRunner(app, http_port=None, model=served)
        ctx = await runner.start()
        assert ctx.model is served and served.version == "1.0.0"
        registry.set_alias("day-ahead", "champion", "1.1.0", by="test", reason="new day-ahead model")
        deadline = time.monotonic() + 10
        while served.version != "1.1.0" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        status = runner.status()
        await runner.stop()
        return status

    status = asyncio.run(main())
    assert status["model"]["version"] == "1.1.0" and status["model"]["swaps"][0]["champion"] == "1.1.0"
    assert got[0] == ("1.0.0", (1, 24)) and got[-1] == ("1.1.0", (1, 24))


def test_cli_wants_registry_and_model_together(tmp_path):
    result = CliRunner().invoke(cli, ["rapp", "run", "energy-saving-planner", "--registry", str(tmp_path)])
    assert result.exit_code != 0 and "--registry and --model go together" in result.output
