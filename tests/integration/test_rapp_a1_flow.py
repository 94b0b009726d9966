"""O1 telemetry → rApp day-ahead forecast → A1 policy → xApp, through e2sim's A1 mediator stand-in.

Processes on 127.0.0.1: e2sim (E2 nodes + E2 term + A1 mediator on ``--a1-port``) and the
energy-saving xApp (its RMR routes send 20012 policy queries to e2sim). This test process runs the
energy-saving planner rApp (a real HTTP server): it posts two days of VES measurement events for
e2sim's capacity cells, the rApp plans a sleep schedule and PUTs it over A1-P v2, the mediator
delivers it over RMR (20010), the xApp applies it and answers (20011), the mediator reports the
instance IN EFFECT. A restarted xApp gets the policy back through its 20012 query.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import httpx
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")
pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")

from conftest import free_port
from ranml.errors import PolicyError
from ranml.rapp import A1Client, RAppRunner, load_rapp

pytestmark = pytest.mark.integration

SCENARIO = """\
name: a1-flow
speed: 60
duration: 6h
start: "2026-03-02T00:00:00"
topology: {gnbs: 2, cells_per_gnb: 3, capacity_mbps: 300}
traffic: {source: synth, days: 1, seed: 3}
"""


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


def wait_for(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"condition not met in {timeout} s")


def ves_events(cells, start, days=2):
    """One VES measurement event per 15-min period: quiet nights (0.1), busy days (0.7)."""
    events = []
    for t in pd.date_range(start, periods=days * 96, freq="15min"):
        util = 0.1 if t.hour < 6 else 0.7
        events.append({"commonEventHeader": {"domain": "measurement", "sourceName": "o1",
                                             "startEpochMicrosec": int(t.timestamp() * 1e6)},
                       "measurementFields": {"measurementInterval": 900, "additionalMeasurements": [
                           {"name": c, "hashMap": {"prb_util": f"{util + 0.01 * np.sin(i):.3f}"}}
                           for i, c in enumerate(cells)]}})
    return events


def start_xapp(env, xapp_port, http_port, state_port):
    return subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "xapp", "run", "energy-saving", "--rmr-port",
                             str(xapp_port), "--http-port", str(http_port), "--state", "memory", "--e2mgr-url",
                             f"http://127.0.0.1:{state_port}", "--name", "127.0.0.1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ves_to_rapp_to_a1_to_xapp(tmp_path):
    sim_port, state_port, a1_port, xapp_port, http_port = (free_port() for _ in range(5))
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    routes = tmp_path / "routes.rt"
    routes.write_text("newrt|start\n" + "".join(f"rte|{m}|127.0.0.1:{sim_port}\n"
                                                for m in (12010, 12020, 12040, 20012)) + "newrt|end\n")
    env = {**os.environ, "RMR_SRC_ID": "127.0.0.1", "RMR_SEED_RT": str(routes)}
    sim = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "e2sim", "run", str(scenario), "--rmr-port",
                            str(sim_port), "--state-port", str(state_port), "--a1-port", str(a1_port),
                            "--hold", "60"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert f'"a1_port": {a1_port}' in sim.stderr.readline()
    xapp = start_xapp(env, xapp_port, http_port, state_port)
    try:
        wait_for(lambda: get(http_port, "/ric/v1/health/ready")["status"] == "ready")
        state = get(state_port, "/state")
        cells = [f"{c['plmn']}:{c['nr_cell_id']:09x}" for c in state["cells"]]
        capacity = [c for c in cells if int(c.split(":")[1], 16) & 0x3FFF > 1]
        assert len(capacity) == 4

        async def rapp_side():
            runner = RAppRunner(load_rapp("energy-saving-planner"), {"min_window_min": 60}, http_port=0,
                                a1_url=f"http://127.0.0.1:{a1_port}")
            await runner.start()
            try:
                base = f"http://127.0.0.1:{runner.http_port}"
                async with httpx.AsyncClient() as client:
                    bad = await client.post(f"{base}/eventListener/v7", json={"event": {
                        "commonEventHeader": {"domain": "measurement"}, "measurementFields": {}}})
                    assert bad.status_code == 400 and "startEpochMicrosec" in bad.json()["error"]
                    r = await client.post(f"{base}/eventListener/v7/eventBatch",
                                          json={"eventList": ves_events(cells, "2026-02-28T00:00:00")})
                    assert r.status_code == 202 and r.json()["ingested"] == 2 * 96 * len(cells)
                    return (await client.get(f"{base}/status")).json()
            finally:
                await runner.stop()

        rapp_status = asyncio.run(rapp_side())
        assert rapp_status["policies"] == ["21000/day-ahead"] and rapp_status["rejected"] == 1

        a1 = A1Client(f"http://127.0.0.1:{a1_port}")
        assert a1.policy_types() == [21000]
        status = a1.wait_in_effect(21000, "day-ahead")
        assert status["handlers"] == {"energy-saving": "OK"}
        schedule = a1.get_policy(21000, "day-ahead")
        assert sorted(schedule["cells"]) == sorted(capacity)  # coverage cells never listed
        for windows in schedule["cells"].values():  # the quiet 00:00-06:00 of the next day
            assert [pd.Timestamp(w[0], unit="s").isoformat() for w in windows] == ["2026-03-02T00:00:00"]
            assert windows[0][1] - windows[0][0] == 6 * 3600
        assert wait_for(lambda: get(http_port, "/ric/v1/status")["policies"] == {"21000": ["day-ahead"]})

        # a restarted xApp asks the mediator (20012) and gets the policy again
        xapp.send_signal(signal.SIGTERM)
        assert xapp.wait(timeout=60) == 0
        xapp = start_xapp(env, xapp_port, http_port, state_port)
        assert wait_for(lambda: get(http_port, "/ric/v1/status")["policies"] == {"21000": ["day-ahead"]})

        # a malformed instance is refused by the mediator with the field named; delete reaches the xApp
        with pytest.raises(PolicyError, match="cells"):
            a1.put_policy(21000, "broken", {"cells": {"x": [[1, 2, 3]]}})
        a1.delete_policy(21000, "day-ahead")
        assert wait_for(lambda: get(http_port, "/ric/v1/status")["policies"] == {"21000": []})
        summary = get(state_port, "/summary")
        assert summary["a1"]["requests_sent"] >= 3 and summary["a1"]["queries"] >= 2
    finally:
        for p in (xapp, sim):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()


def test_rapp_cli_runs_until_sigterm(tmp_path):
    """``ranml rapp run`` (the README's command): ready, ingests VES, stops cleanly on SIGTERM."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "rapp", "run", "energy-saving-planner",
                             "--http-port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: get(port, "/readyz")["ready"])
        body = json.dumps({"eventList": ves_events(["00f110:000000402"], "2026-02-28T00:00:00", days=1)}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/eventListener/v7", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read()) == {"ingested": 96}
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        final = json.loads(out.strip().splitlines()[-1])
        assert final["telemetry_rows"] == 96 and final["policy_errors"] == 0  # no A1 URL: nothing was sent
    finally:
        if proc.poll() is None:
            proc.kill()
