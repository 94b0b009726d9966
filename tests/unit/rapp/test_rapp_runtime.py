"""rApp runtime: VES and PM ingest into the tidy table, the day-ahead planner, the A1 client's errors."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pandas as pd
import pytest

from conftest import free_port
from ranml.errors import ConfigError, DataError, PolicyError
from ranml.rapp import A1Client, RApp, RAppRunner, load_rapp
from ranml.rapp.apps.energy_saving_planner import PlannerSettings, plan_schedule
from ranml.rapp.telemetry import TelemetryStore, pm_file_rows, ves_rows
from ranml.telemetry.table import CELL, TIME


def _event(t, values):
    start = int(pd.Timestamp(t).timestamp() * 1e6)
    return {"commonEventHeader": {"domain": "measurement", "startEpochMicrosec": start},
            "measurementFields": {"additionalMeasurements": [{"name": c, "hashMap": {"prb_util": str(v)}}
                                                             for c, v in values.items()]}}


def test_ves_rows_and_notifications():
    rows, files = ves_rows({"eventList": [
        _event("2026-03-01T00:00", {"a:000000002": 0.25, "a:000000003": 0.5}),
        {"commonEventHeader": {"domain": "notification"}, "notificationFields": {"arrayOfNamedHashMap": [
            {"name": "pm-1.csv", "hashMap": {"location": "/data/pm-1.csv"}}]}},
        {"commonEventHeader": {"domain": "heartbeat"}}]})
    assert [(r[CELL], r["prb_util"]) for r in rows] == [("a:000000002", 0.25), ("a:000000003", 0.5)]
    assert rows[0][TIME] == pd.Timestamp("2026-03-01T00:00") and files == ["/data/pm-1.csv"]
    for body, why in (({"x": 1}, "expected"), ({"eventList": [1]}, "list of event objects"),
                      ({"event": {"commonEventHeader": {"domain": "measurement"}}}, "startEpochMicrosec"),
                      ({"event": _event("2026-03-01", {"c": "high"})}, r"hashMap.prb_util: 'high'")):
        with pytest.raises(DataError, match=why):
            ves_rows(body)


def test_pm_files_and_the_store(tmp_path):
    csv = tmp_path / "pm.csv"
    pd.DataFrame({CELL: ["c1", "c1"], TIME: ["2026-03-01T00:00:00Z", "2026-03-01T00:15:00Z"],
                  "prb_util": [0.1, 0.2]}).to_csv(csv, index=False)
    js = tmp_path / "pm.json"
    js.write_text(json.dumps([{CELL: "c2", TIME: "2026-03-01T00:00:00", "prb_util": 0.3}]))
    store = TelemetryStore("15min")
    store.add(pm_file_rows(str(csv)) + pm_file_rows(f"file://{js}"))
    store.add(pm_file_rows(str(csv))[:1])  # a duplicate report: the latest wins, no double row
    table = store.table()
    assert len(table.frame) == 3 and table.step == pd.Timedelta("15min")
    with pytest.raises(DataError, match="missing column"):
        bad = tmp_path / "bad.csv"
        bad.write_text("cell,value\nx,1\n")
        pm_file_rows(str(bad))
    with pytest.raises(DataError, match="cannot read"):
        pm_file_rows(str(tmp_path / "none.csv"))
    with pytest.raises(DataError, match="no telemetry yet"):
        TelemetryStore("15min").table()


def test_day_ahead_plan_picks_the_quiet_hours():
    times = pd.date_range("2026-03-01", periods=3 * 96, freq="15min")
    rng = np.random.default_rng(1)
    rows = []
    for cell in ("p:000000001", "p:000000002", "p:000000003"):
        for t in times:
            base = 0.1 if 1 <= t.hour < 5 else 0.6
            rows.append({CELL: cell, TIME: t, "prb_util": base + rng.normal(0, 0.02)})
    rows.append({CELL: "p:000000009", TIME: times[-1], "prb_util": 0.0})  # one report only: no plan
    frame = pd.DataFrame(rows)
    plan = plan_schedule(frame, pd.Timedelta("15min"), PlannerSettings(min_window_min=60))
    assert sorted(plan["cells"]) == ["p:000000002", "p:000000003"]  # coverage cell 1 never sleeps
    (window,) = plan["cells"]["p:000000002"]
    assert pd.Timestamp(window[0], unit="s") == pd.Timestamp("2026-03-04T01:00")
    assert window[1] - window[0] == 4 * 3600
    assert plan["generated_at"] == pd.Timestamp("2026-03-04").timestamp()
    strict = plan_schedule(frame, pd.Timedelta("15min"), PlannerSettings(min_window_min=300))
    assert strict["cells"] == {}  # the quiet spell is 4 h, shorter than the 5 h asked


def test_runner_http_endpoints_and_bad_input(tmp_path):
    app = RApp("probe", telemetry_step="15min")
    calls = []

    @app.on_telemetry
    async def seen(ctx, added):
        calls.append(added)

    async def main():
        runner = RAppRunner(app, http_port=0)
        await runner.start()
        base = f"http://127.0.0.1:{runner.http_port}"
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"{base}/readyz")).json() == {"ready": True}
            r = await c.post(f"{base}/eventListener/v7", json={"event": _event("2026-03-01", {"x": 0.5})})
            assert r.status_code == 202 and r.json() == {"ingested": 1}
            r = await c.post(f"{base}/eventListener/v7", content=b"{not json")
            assert r.status_code == 400
            r = await c.post(f"{base}/pm/files", json={"location": str(tmp_path / "missing.csv")})
            assert r.status_code == 400 and "cannot read" in r.json()["error"]
            metrics = (await c.get(f"{base}/metrics")).text
            assert "ranml_rapp_rows 1" in metrics and "ranml_rapp_rejected 2" in metrics
        final = await runner.stop()
        assert final["telemetry_rows"] == 1 and calls == [1]

    asyncio.run(main())


def test_a1_client_errors_are_clear():
    client = A1Client(f"http://127.0.0.1:{free_port()}", retries=2, backoff_s=0.01)
    with pytest.raises(PolicyError, match="failed after 3 attempts"):
        client.policy_types()
    assert client.healthy() is False
    with pytest.raises(ConfigError, match="energy-saving-planner"):
        load_rapp("nope")
    with pytest.raises(ConfigError, match="positive period"):
        RApp("x").every(0)
