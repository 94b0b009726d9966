"""The model server as a real uvicorn process on 127.0.0.1, and fuzzed from its OpenAPI."""

import json
import os
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

pytest.importorskip("torch", reason="the fixture exports a model with torch")
pytest.importorskip("fastapi", reason="the server needs ranml[serving]")
schemathesis = pytest.importorskip("schemathesis", reason="fuzzing needs schemathesis")

from hypothesis import HealthCheck, settings

from conftest import free_port
from ranml.benchmark.models import ModelShape, TrainSettings, build_model
from ranml.benchmark.windows import WindowSpec, make_windows
from ranml.export import ExportGates, export_model
from ranml.serving import LocalRegistry
from ranml.telemetry import generate

pytestmark = pytest.mark.integration
TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("reg")
    data = make_windows(generate(cells=2, days=5, step="1h", seed=1),
                        WindowSpec(input_steps=24, horizon=2, max_train_windows=100,
                                   max_val_windows=16, max_test_windows=16))
    model = build_model("nlinear", ModelShape(24, 2, int(data.x["train"].shape[-1])))
    model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"], TrainSettings(epochs=1))
    reg = LocalRegistry(root)
    for _ in range(2):
        r = export_model(model, data, "traffic", "onnx", ExportGates(windows=16))
        reg.register("traffic", r.files, r.manifest.model_dump(mode="json"))
    reg.set_alias("traffic", "champion", "1.0.0")
    return root, data


@pytest.fixture(scope="module")
def server(registry):
    root, _ = registry
    port = free_port()
    env = {**os.environ, "RANML_API_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "serve", "--registry", str(root), "--port",
                             str(port), "--max-body-mb", "0.5"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.05)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def body(n=2, steps=24, features=5, **extra):
    rng = np.random.default_rng(0)
    return {"cells": [str(i + 1) for i in range(n)],
            "windows": (rng.random((n, steps, features)) * 10).tolist(), **extra}


def test_health_ready_models(server):
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server}/readyz").json()["ready"] is True
    models = httpx.get(f"{server}/v1/models").json()
    assert models == [{"name": "traffic", "versions": ["1.0.0", "1.1.0"], "aliases": {"champion": "1.0.0"}}]


def test_predict_and_metrics(server):
    r = httpx.post(f"{server}/v1/models/traffic/predict", json=body())
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["version"] == "1.0.0" and len(out["forecasts"]) == 2 and len(out["forecasts"][0]) == 2
    assert out["fallback"] is False and out["latency_us"] > 0
    r = httpx.post(f"{server}/v1/models/traffic/predict", json=body(version="1.1.0"))
    assert r.json()["version"] == "1.1.0"
    loaded = httpx.get(f"{server}/v1/models/traffic").json()["loaded"]
    assert loaded == {"1.0.0": "CPUExecutionProvider", "1.1.0": "CPUExecutionProvider"}
    text = httpx.get(f"{server}/metrics").text
    assert 'ranml_predict_requests_total{model="traffic",outcome="ok",version="1.0.0"}' in text


def test_errors_name_the_problem(server):
    url = f"{server}/v1/models/traffic/predict"
    r = httpx.post(url, json=body(steps=10))
    assert r.status_code == 422 and "windows[0]: 10 steps, the model needs input_steps=24" in r.text
    r = httpx.post(url, json=body(features=3))
    assert r.status_code == 422 and "windows[0][0]: 3 features" in r.text
    bad = body()
    bad["windows"][1][3][0] = float("nan")
    r = httpx.post(url, content=json.dumps(bad), headers={"content-type": "application/json"})
    assert r.status_code == 422 and "NaN" in r.text
    assert httpx.post(f"{server}/v1/models/nope/predict", json=body()).status_code == 404
    assert httpx.post(url, json=body(version="9.9.9")).status_code == 404
    big = body(n=600)
    r = httpx.post(url, json=big)
    assert r.status_code == 413
    r = httpx.post(url, json={"cells": ["1"], "windows": []})
    assert r.status_code == 422

    def chunks():
        yield json.dumps(body()).encode()

    r = httpx.post(url, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 411


def test_admin_needs_token(server):
    url = f"{server}/v1/models/traffic/promote"
    assert httpx.post(url, json={"version": "1.1.0"}).status_code == 401
    assert httpx.post(url, json={"version": "1.1.0"}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = httpx.post(url, json={"version": "1.1.0", "reason": "canary won"}, headers=auth)
    assert r.status_code == 200 and r.json()["to"] == "1.1.0"
    r = httpx.post(f"{server}/v1/models/traffic/rollback", json={"reason": "regression"}, headers=auth)
    assert r.status_code == 200 and r.json()["to"] == "1.0.0"
    hist = httpx.get(f"{server}/v1/models/traffic").json()["history"]
    assert [h["reason"] for h in hist][-2:] == ["canary won", "regression"]


def test_fuzz_never_a_server_error(server):
    """Hypothesis-generated requests for every operation of the OpenAPI document: never a 5xx."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/models/{name}/predict", "/v1/models/{name}/promote"}
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(base_url=server, checks=[schemathesis.checks.not_a_server_error])

        check()
