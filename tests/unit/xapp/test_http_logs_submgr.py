"""Runner HTTP endpoints, MDC log lines, the subscription-manager REST client, warm restarts."""

import asyncio
import json
import logging
import urllib.error
import urllib.request

import pytest

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")

from ranml.host.http import TinyHttpServer
from ranml.xapp import RunnerSettings, XAppRunner
from ranml.xapp.apps.energy_saving import app as es_app
from ranml.xapp.cell_load import LoadModel, LoadSettings
from ranml.xapp.logs import MdcFormatter
from ranml.xapp.subscriptions import SubmgrClient, SubscriptionError, SubscriptionSpec
from ranml.xapp.transport import MemoryHub


def fetch(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.read().decode()


def test_health_config_metrics_endpoints():
    async def main():
        runner = XAppRunner(es_app, MemoryHub().endpoint("x"), RunnerSettings(http_port=0, state="memory"),
                            {"policy": "reactive", "sleep_below": 0.2})
        await runner.start()
        port = runner.http.port
        try:
            alive = await asyncio.to_thread(fetch, port, "/ric/v1/health/alive")
            ready = await asyncio.to_thread(fetch, port, "/ric/v1/health/ready")
            assert alive[0] == 200 and ready[0] == 200
            status, _, body = await asyncio.to_thread(fetch, port, "/ric/v1/config")
            config = json.loads(body)[0]["config"]
            assert status == 200 and config["name"] == "energy-saving" and config["controls"]["sleep_below"] == 0.2
            status, ctype, text = await asyncio.to_thread(fetch, port, "/metrics")
            assert status == 200 and ctype.startswith("text/plain") and "ranml_xapp_handler_seconds_bucket" in text
            assert (await asyncio.to_thread(fetch, port, "/nope"))[0] == 404
            runner.ready = False
            assert (await asyncio.to_thread(fetch, port, "/ric/v1/health/ready"))[0] == 503
        finally:
            await runner.stop()

    asyncio.run(main())


def test_bad_app_config_names_the_field():
    from ranml.errors import ConfigError

    with pytest.raises(ConfigError, match="sleep_below"):
        es_app.load_config({"sleep_below": -1})


def test_mdc_log_line_shape():
    record = logging.LogRecord("ranml.xapp.x", logging.WARNING, __file__, 1, "cell %s busy", ("c1",), None)
    record.mdc = {"cell": "c1"}
    line = json.loads(MdcFormatter("ts-app", {"node": "n1"}).format(record))
    assert set(line) == {"ts", "crit", "id", "mdc", "msg"} and line["crit"] == "WARNING"
    assert line["id"] == "ts-app" and line["msg"] == "cell c1 busy"
    assert line["mdc"] == {"node": "n1", "logger": "ranml.xapp.x", "cell": "c1"}


def test_submgr_client_posts_the_documented_fields():
    seen = []

    def handler(method, path, body):
        seen.append((method, path, json.loads(body) if body else None))
        if method == "POST":
            return 201, {"SubscriptionId": "sub-42", "SubscriptionInstances": []}
        return 204, None

    async def main():
        server = TinyHttpServer(handler, 0)
        port = await server.start()
        try:
            client = SubmgrClient(f"http://127.0.0.1:{port}/ric/v1", "ts-xapp.ricxapp", 8080, 4560)
            spec = SubscriptionSpec("gnb_001", 2, b"\x08\x27\x0f", ((1, b"\x01\x02"),), 10.0)
            assert await client.subscribe(spec) == "sub-42"
            await client.delete("sub-42")
            bad = SubmgrClient("http://127.0.0.1:1/ric/v1", "h")
            with pytest.raises(SubscriptionError, match="unreachable"):
                await bad.subscribe(spec)
        finally:
            await server.close()

    asyncio.run(main())
    (post, path, body), (delete, del_path, _) = seen
    assert (post, path, delete, del_path) == ("POST", "/ric/v1/subscriptions", "DELETE", "/ric/v1/subscriptions/sub-42")
    assert body["ClientEndpoint"] == {"Host": "ts-xapp.ricxapp", "HTTPPort": 8080, "RMRPort": 4560}
    assert body["Meid"] == "gnb_001" and body["RANFunctionID"] == 2
    detail = body["SubscriptionDetails"][0]
    assert detail["EventTriggers"] == [8, 39, 15] and detail["XappEventInstanceId"] == 1
    assert detail["ActionToBeSetupList"][0] == {"ActionID": 1, "ActionType": "report", "ActionDefinition": [1, 2],
                                                 "SubsequentAction": {"SubsequentActionType": "continue",
                                                                      "TimeToWait": "zero"}}


def test_load_model_snapshot_restores_a_warm_start():
    from ranml.xapp.app import CellReport

    first = LoadModel(LoadSettings(history=6, horizon=2))
    for i in range(10):
        first.update(CellReport("gnb", None, 1000.0 + 60 * i, 60.0, ("RRU.PrbUsedDl", "RRU.PrbAvailDl",
                                "RRC.ConnMean", "PEE.AvgPower"), ((10 * i, 273, i, 300.0),)))
    snap = json.loads(json.dumps(first.snapshot()))
    second = LoadModel(LoadSettings(history=6, horizon=2))
    assert second.restore(snap) == 1
    view = second.update(CellReport("gnb", None, 1600.0, 60.0, ("RRU.PrbUsedDl", "RRU.PrbAvailDl",
                                    "RRC.ConnMean", "PEE.AvgPower"), ((100, 273, 10, 300.0),)))
    assert second.forecasts == 1 and view.forecast.size == 2  # forecasting from the first report


def test_runner_in_subscription_manager_mode():
    """REST mode: POST to the manager, its notification maps E2 instance ids, indications flow, DELETE at stop."""
    import httpx

    from ranml.protocols import e2ap
    from ranml.protocols.e2sm import IndicationHeader, IndicationMessage, KpmCodec
    from ranml.protocols.rmr import MTYPES, RmrMessage
    from ranml.xapp import XApp

    kpm = KpmCodec()
    app = XApp("rest-probe")
    app.subscribe_kpm(("RRC.ConnMean",), period_ms=1000)
    seen = []

    @app.on_report
    async def report(ctx, r):
        seen.append(r.last("RRC.ConnMean")[0])

    calls = []

    async def main():
        runner_box = {}

        async def submgr(method, path, body):
            calls.append((method, path, json.loads(body) if body else None))
            if method == "POST":
                params = json.loads(body)
                notify = {"SubscriptionId": "s-1", "SubscriptionInstances": [
                    {"XappEventInstanceId": params["SubscriptionDetails"][0]["XappEventInstanceId"],
                     "E2EventInstanceId": 77}]}
                port = params["ClientEndpoint"]["HTTPPort"]

                async def later():
                    await asyncio.sleep(0.05)
                    async with httpx.AsyncClient() as c:
                        await c.post(f"http://127.0.0.1:{port}/ric/v1/subscriptions/response", json=notify)

                runner_box["task"] = asyncio.create_task(later())
                return 201, {"SubscriptionId": "s-1", "SubscriptionInstances": None}
            return 204, None

        manager = TinyHttpServer(submgr, 0)
        mport = await manager.start()
        hub = MemoryHub()
        node = hub.endpoint("node")
        await node.start()
        runner = XAppRunner(app, hub.endpoint("xapp"), RunnerSettings(
            http_port=0, state="memory", nodes=["gnb_9"], submgr_url=f"http://127.0.0.1:{mport}/ric/v1"))
        await runner.start()
        await runner_box["task"]
        for i in range(3):
            ind = e2ap.Indication(1001, 77, 2, 1, kpm.encode_indication_header(IndicationHeader(1000.0 + i)),
                                  kpm.encode_indication_message(IndicationMessage(((i,),), ("RRC.ConnMean",), 1000)))
            await node.send_to("xapp", RmrMessage(MTYPES["RIC_INDICATION"], e2ap.encode(ind), 77, meid="gnb_9"))
        await asyncio.sleep(0.2)
        final = await runner.stop()
        await manager.close()
        return final

    final = asyncio.run(main())
    assert seen == [0, 1, 2]
    assert [c[:2] for c in calls] == [("POST", "/ric/v1/subscriptions"), ("DELETE", "/ric/v1/subscriptions/s-1")]
    assert calls[0][2]["Meid"] == "gnb_9" and final["subscriptions_deleted"] == 1
