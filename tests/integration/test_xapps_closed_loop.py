"""Each built-in xApp and e2sim as separate processes over RMR on 127.0.0.1.

Setup, subscriptions, forecasts from a registry model, controls applied in e2sim's state, a
canary model swap mid-run with zero dropped indications, and a graceful shutdown that deletes
the subscriptions.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("torch", reason="the test trains and exports two tiny models with torch")
pytest.importorskip("onnxruntime", reason="the xApp serves the model with onnxruntime")
pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")

from conftest import free_port
from ranml.benchmark.models import ModelShape, TrainSettings, build_model
from ranml.benchmark.windows import WindowSpec, make_windows
from ranml.export import ExportGates, export_model
from ranml.serving.registry import LocalRegistry
from ranml.telemetry import generate

pytestmark = pytest.mark.integration

SCENARIO = """\
name: xapp-test
speed: 400
duration: 3h
start: "2026-03-02T{start}:00:00"
topology: {{gnbs: 2, cells_per_gnb: 3, capacity_mbps: 300}}
traffic: {{source: synth, days: 1, seed: 3, peak_low: {low}, peak_high: {high}}}
energy: {{wake_delay: 60s}}
faults:
  - {{at: 1h, kind: restart, node: gnb_002, duration: 2min}}
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """v1.0.0 (champion) and v1.1.0 of a tiny NLinear on PRB utilisation, 1-minute steps."""
    table = generate(cells=6, days=3, step="1min", seed=2)
    data = make_windows(table, WindowSpec(input_steps=12, horizon=4, target="prb_util",
                                          features=["active_ues"], max_train_windows=3000,
                                          max_val_windows=500, max_test_windows=500))
    reg = LocalRegistry(tmp_path_factory.mktemp("registry"))
    for version, epochs in (("1.0.0", 1), ("1.1.0", 4)):
        model = build_model("nlinear", ModelShape(12, 4, int(data.x["train"].shape[-1]), 0, 60 * 24))
        model.fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"],
                  TrainSettings(epochs=epochs, lr=1e-2, patience=epochs + 1))
        result = export_model(model, data, "nlinear", "onnx", ExportGates(windows=32))
        reg.register("load", result.files, result.manifest.model_dump(mode="json"), version=version)
    reg.set_alias("load", "champion", "1.0.0", by="test", reason="start")
    return reg


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


def run_app(tmp_path, registry, app, config, low, high, during=None, start="05", transport="python"):
    sim_port, state_port, xapp_port, http_port = (free_port() for _ in range(4))
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO.format(low=low, high=high, start=start))
    routes = tmp_path / "routes.rt"
    routes.write_text("newrt|start\n" + "".join(f"rte|{m}|127.0.0.1:{sim_port}\n" for m in (12010, 12020, 12040))
                      + "newrt|end\n")
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"policy": "forecast", "registry": str(registry.root), "model": "load", **config}))
    env = {**os.environ, "RMR_SRC_ID": "127.0.0.1", "RMR_SEED_RT": str(routes)}
    xapp_env = dict(env)
    if transport == "librmr":  # librmr: the seed file only, and a control port of its own
        xapp_env.update(RMR_RTG_SVC="-1", RMR_CTL_PORT=str(free_port()))
    summary = tmp_path / "e2sim.json"
    sim = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "e2sim", "run", str(scenario), "--rmr-port",
                            str(sim_port), "--state-port", str(state_port), "--json-summary", str(summary),
                            "--hold", "60"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "state_port" in sim.stderr.readline()
    xapp = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "xapp", "run", app, "--rmr-port", str(xapp_port),
                             "--http-port", str(http_port), "--state", "memory", "--e2mgr-url",
                             f"http://127.0.0.1:{state_port}", "--config", str(cfg), "--name", "127.0.0.1",
                             "--transport", transport],
                            env=xapp_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(http_port, "/ric/v1/health/ready")["status"] == "ready":
                    break
            except OSError:
                time.sleep(0.2)
        status = get(http_port, "/ric/v1/status")
        assert status["subscriptions"] == 2 and status["nodes"] == ["gnb_001", "gnb_002"]
        if during is not None:
            during(http_port)
        deadline = time.monotonic() + 120
        while get(state_port, "/state")["simulated_s"] < 2.5 * 3600 and time.monotonic() < deadline:
            time.sleep(0.2)
        final_status = get(http_port, "/ric/v1/status")
        xapp.send_signal(signal.SIGTERM)  # while e2sim still runs: the subscriptions must be deleted
        out, err = xapp.communicate(timeout=60)
        assert xapp.returncode == 0, err[-3000:]
        assert sim.wait(timeout=120) == 0
    finally:
        for p in (xapp, sim):
            if p.poll() is None:
                p.kill()
    return json.loads(out.strip().splitlines()[-1]), json.loads(summary.read_text()), final_status


def private_copy(registry, tmp_path):
    """A copy of the module's registry: a test whose xApp moves aliases (a canary decision) keeps it to itself."""
    import shutil

    shutil.copytree(registry.root, tmp_path / "reg")
    return LocalRegistry(tmp_path / "reg")


def test_energy_saving_xapp_with_a_canary_swap(tmp_path, registry):
    registry = private_copy(registry, tmp_path)  # the canary may promote 1.1.0 to champion

    def canary(http_port):
        time.sleep(6)  # forecasts are flowing with v1.0.0; start a canary of v1.1.0 on a share of the cells
        registry.set_alias("load", "challenger", "1.1.0", by="test", reason="canary")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not get(http_port, "/ric/v1/status")["model_swaps"]:
            time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        assert 'ranml_xapp_model_swaps{outcome="ok",xapp="energy-saving"} 1.0' in text

    counters, truth, status = run_app(tmp_path, registry, "energy-saving", {"sleep_below": 0.35}, 0.3, 0.6, canary)
    assert status["ready"] and status["model_swaps"]  # /ric/v1/status while running
    swaps = counters["model_swaps"]
    assert swaps and swaps[0]["ok"] and swaps[0]["challenger"] == "1.1.0"
    assert counters["indications"] == truth["e2"]["indications_sent"] > 100  # nothing dropped, swap included
    assert counters["dropped"] == 0 and counters["malformed"] == 0
    assert truth["totals"]["cell_switches"] >= 1 and truth["totals"]["sleep_minutes"] > 0  # controls took effect
    assert counters["controls_ok"] == truth["e2"]["controls_ok"]
    assert counters["subscriptions_deleted"] == 2 and truth["e2"]["deletes"] == 2, json.dumps([counters, truth["e2"]])
    assert truth["e2"]["restarts"] == 1 and counters["resubscribed"] >= 1  # gnb_002 restarted: re-subscribed


def test_traffic_steering_xapp_moves_load(tmp_path, registry):
    counters, truth, _ = run_app(tmp_path, registry, "traffic-steering", {"high": 0.8, "low": 0.65}, 0.4, 1.3,
                                 start="11")
    assert truth["totals"]["handovers_ok"] >= 1 and counters["controls_ok"] >= 1
    assert counters["model_version"] == "1.0.0" and counters["deadline_misses"] == 0
    assert counters["indications"] == truth["e2"]["indications_sent"]
    assert counters["subscriptions_deleted"] == 2 and truth["e2"]["deletes"] == 2


def test_broken_artefact_keeps_the_running_model(tmp_path, registry):
    import numpy as np

    from ranml.serving import ModelRef, ServedModel
    from ranml.xapp.forecast import RegistryForecaster

    reg = private_copy(registry, tmp_path)
    root = reg.root
    f = RegistryForecaster(ServedModel(reg, ModelRef("load"), poll_s=0.1), {"prb_util": 0, "active_ues": 1}).start()
    try:
        windows = np.full((2, 12, 2), 40.0)
        before = f.predict(["a", "b"], windows, np.array([1.8e9, 1.8e9]))
        blob = root / "blobs" / "sha256" / reg.get("load", "1.1.0").blobs["model"]
        blob.write_bytes(b"tampered" + blob.read_bytes()[8:])
        reg.set_alias("load", "champion", "1.1.0", by="test", reason="roll out")
        deadline = time.monotonic() + 10
        while not f.swaps and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f.swaps and not f.swaps[0]["ok"] and "sha256" in f.swaps[0]["reason"]
        assert f.version == "1.0.0"
        assert np.allclose(f.predict(["a", "b"], windows, np.array([1.8e9, 1.8e9])), before)
    finally:
        f.close()


def test_traffic_steering_xapp_on_librmr(tmp_path, registry):
    """The same closed loop with the xApp on the OSC librmr binding (ricxappframe), e2sim on ranml's RMR."""
    from ranml.xapp.osc_transport import librmr_available

    reason = librmr_available()
    if reason is not None:
        pytest.skip(f"librmr_si.so is not installed here ({reason}); build it as .ci/run does")
    counters, truth, status = run_app(tmp_path, registry, "traffic-steering", {"high": 0.8, "low": 0.65}, 0.4, 1.3,
                                      start="11", transport="librmr")
    assert status["ready"]
    assert counters["indications"] == truth["e2"]["indications_sent"] > 100 and counters["dropped"] == 0
    assert truth["totals"]["handovers_ok"] >= 1 and counters["controls_ok"] == truth["e2"]["controls_ok"] >= 1
    assert counters["subscriptions_deleted"] == 2 and truth["e2"]["deletes"] == 2
    assert counters["resubscribed"] >= 1 and truth["e2"]["restarts"] == 1
