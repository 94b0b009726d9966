"""The dApp runner: validated settings, HTTP on the configured address, a followed registry model."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid

import numpy as np
import pytest

from ranml.config import parse_mapping
from ranml.dapp import DAppRunner, DAppSettings, RanEmulator, load_dapp
from ranml.errors import ConfigError


@pytest.mark.parametrize(("values", "field"), [({"transport": "tcp"}, "transport"), ({"cells": 0}, "cells"),
                                               ({"budget_us": -1}, "budget_us"), ({"htp_port": 1}, "htp_port")])
def test_bad_settings_name_the_field(values, field):
    with pytest.raises(ConfigError, match=field):
        parse_mapping(DAppSettings, values, source="dapp options")


def test_registry_and_model_go_together():
    with pytest.raises(ConfigError, match="both registry and model"):
        DAppSettings(registry="/tmp/reg").model_ref()
    with pytest.raises(ConfigError, match="NAME@ALIAS"):
        DAppSettings(registry="/tmp/reg", model="load@").model_ref()


def run_with_emulator(settings: DAppSettings, during=None, rate_hz=500.0, duration=1.5):
    emulator = RanEmulator(settings.cells, rate_hz, settings.transport, settings.path, seed=2).open()
    runner = DAppRunner(load_dapp("prb-reservation"), settings).start()
    stop = threading.Event()
    done: dict[str, object] = {}
    loop = threading.Thread(target=lambda: done.update(stats=runner.run(stop)))
    loop.start()
    try:
        emulator_stats = emulator.run(duration) if during is None else _run_during(emulator, duration, during, runner)
    finally:
        emulator.close()
        loop.join(timeout=30)
        runner.close()
    return runner, emulator_stats


def _run_during(emulator, duration, during, runner):
    helper = threading.Thread(target=during, args=(runner,))
    helper.start()
    stats = emulator.run(duration)
    helper.join(timeout=30)
    return stats


def test_status_is_served_on_the_configured_address_while_the_loop_runs():
    seen = {}

    def probe(runner):
        time.sleep(0.5)
        assert runner.http is not None
        host, port = runner.settings.http_host, runner.http.port
        with urllib.request.urlopen(f"http://{host}:{port}/status", timeout=5) as r:
            seen["status"] = json.loads(r.read())
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=5) as r:
            seen["ready"] = json.loads(r.read())

    settings = DAppSettings(cells=4, path=f"ranml-t-{uuid.uuid4().hex[:8]}", budget_us=50_000, http_port=0)
    assert settings.http_host == "127.0.0.1"  # not every interface unless asked
    runner, emu = run_with_emulator(settings, probe)
    assert seen["ready"] == {"ready": True} and seen["status"]["dapp"] == "prb-reservation"
    summary = runner.summary()
    assert summary["slots"] == emu.summary()["controls"] > 0 and summary["misses"] == 0


def test_a_registry_model_follows_its_alias_between_slots(tmp_path):
    pytest.importorskip("torch", reason="the test exports a model with torch")
    pytest.importorskip("onnxruntime", reason="the runtime needs onnxruntime")
    from conftest import univariate_registry

    reg = univariate_registry(tmp_path / "reg", "slots", "nlinear", 32, 4, cells=4, seed=5, target="prb_util")

    def move(runner):
        time.sleep(0.4)
        reg.set_alias("slots", "champion", "1.1.0", by="test", reason="roll out")

    settings = DAppSettings(cells=4, path=f"ranml-t-{uuid.uuid4().hex[:8]}", budget_us=50_000,
                            registry=str(tmp_path / "reg"), model="slots", poll_s=0.05)
    runner, emu = run_with_emulator(settings, move, duration=2.0)
    summary = runner.summary()
    assert summary["model_version"] == "1.1.0" and summary["swaps"] == 1
    assert summary["slots"] == emu.summary()["controls"] > 0 and summary["misses"] == 0
    assert np.isfinite(summary["p99_us"])
