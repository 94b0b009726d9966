"""An rApp serves a registry model the way the other runtimes do: ctx.model follows its alias."""

import asyncio
import time

import numpy as np
import pytest

pytest.importorskip("torch", reason="the test exports a model with torch")
pytest.importorskip("onnxruntime", reason="the runtime needs onnxruntime")

from typer.testing import CliRunner

from conftest import univariate_registry
from ranml.cli.app import app as cli
from ranml.rapp import RApp, RAppRunner
from ranml.serving import ModelRef, ServedModel


@pytest.fixture
def registry(tmp_path):
    return univariate_registry(tmp_path / "reg", "day-ahead", "seasonal_naive", 24, 24, cells=3, seed=2)


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
