"""The runner on the in-memory transport with a scripted E2 node: subscribe, reports, controls,
health, overload, re-subscription, shutdown."""

import asyncio

import numpy as np
import pytest

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")
pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")

from ranml.protocols import e2ap
from ranml.protocols.e2sm import IndicationHeader, IndicationMessage, KpmCodec, NrCgi
from ranml.protocols.rmr import MTYPES, RmrMessage
from ranml.xapp import RunnerSettings, XApp, XAppRunner
from ranml.xapp.transport import MemoryHub

KPM = KpmCodec()


def make_app():
    app = XApp("probe", version="0.1.0")
    app.subscribe_kpm(("RRU.PrbUsedDl", "RRC.ConnMean"), period_ms=1000)
    app.sends_mtype("RIC_CONTROL_REQ")
    seen = []

    @app.on_report
    async def report(ctx, r):
        seen.append(r)
        ctx.features.add(r.cell_key, r.time, r.last("RRU.PrbUsedDl", "RRC.ConnMean"))

    @app.on(30000)
    async def custom(ctx, msg):
        seen.append(msg.payload)

    @app.on(31001)
    async def slow(ctx, msg):
        await asyncio.sleep(0.005)

    return app, seen


class Node:
    """A scripted E2 node on the hub: answers subscriptions, deletes and controls."""

    def __init__(self, hub, fail_first=0):
        self.t = hub.endpoint("node")
        self.subs = {}
        self.deleted = []
        self.fail_first = fail_first
        self.other = []

    async def serve(self):
        while True:
            msg = await self.t.receive()
            if msg.mtype == MTYPES["RIC_HEALTH_CHECK_RESP"]:
                self.other.append(msg)
                continue
            m = e2ap.decode(msg.payload)
            if isinstance(m, e2ap.SubscriptionRequest):
                if self.fail_first:
                    self.fail_first -= 1
                    continue  # no answer: the runner must retry
                self.subs[m.instance_id] = m
                reply = e2ap.SubscriptionResponse(m.requestor_id, m.instance_id, 2, tuple(a for a, _ in m.actions))
                await self.t.rts(msg, RmrMessage(MTYPES["RIC_SUB_RESP"], e2ap.encode(reply)))
            elif isinstance(m, e2ap.SubscriptionDeleteRequest):
                self.deleted.append(m.instance_id)
                await self.report("xapp", m.instance_id, 2000.0, 5, 1)  # a report already on its way
                reply = e2ap.SubscriptionDeleteResponse(m.requestor_id, m.instance_id, 2)
                await self.t.rts(msg, RmrMessage(MTYPES["RIC_SUB_DEL_RESP"], e2ap.encode(reply)))
            elif isinstance(m, e2ap.ControlRequest):
                reply = e2ap.ControlFailure(m.requestor_id, m.instance_id, m.ran_function_id,
                                            ("ricRequest", "control-failed-to-execute"))
                await self.t.rts(msg, RmrMessage(MTYPES["RIC_CONTROL_FAILURE"], e2ap.encode(reply)))

    async def report(self, xapp, instance, t, prb, ues):
        ind = e2ap.Indication(1001, instance, 2, 1, KPM.encode_indication_header(IndicationHeader(t)),
                              KPM.encode_indication_message(IndicationMessage(((prb, ues),), ("RRU.PrbUsedDl",
                                                                                              "RRC.ConnMean"), 1000)))
        await self.t.send_to(xapp, RmrMessage(MTYPES["RIC_INDICATION"], e2ap.encode(ind), instance, meid="gnb_1"))


def test_runner_end_to_end_on_memory_transport():
    async def main():
        hub = MemoryHub()
        for mt in ("RIC_SUB_REQ", "RIC_SUB_DEL_REQ", "RIC_CONTROL_REQ"):
            hub.route(MTYPES[mt], "node")
        node = Node(hub, fail_first=1)
        await node.t.start()
        server = asyncio.create_task(node.serve())
        app, seen = make_app()
        xt = hub.endpoint("xapp")
        runner = XAppRunner(app, xt, RunnerSettings(http_port=None, state="memory", nodes=["gnb_1"],
                                                    subscribe_timeout_s=0.2, stale_after_periods=3,
                                                    queue_size=50))
        ctx = await runner.start()
        assert list(node.subs) == [1]  # second attempt after the first went unanswered
        for i in range(5):
            await node.report("xapp", 1, 1000.0 + i, 10 * i, i)
        await node.report("xapp", 99, 1000.0, 1, 1)  # unknown subscription: ignored
        await node.t.send_to("xapp", RmrMessage(MTYPES["RIC_INDICATION"], b"\x00\x05junk", 1, meid="gnb_1"))
        await node.t.send_to("xapp", RmrMessage(30000, b"custom"))
        await node.t.send_to("xapp", RmrMessage(31000, b"nobody"))
        await node.t.send_to("xapp", RmrMessage(MTYPES["RIC_HEALTH_CHECK_REQ"], b"ping"))
        await asyncio.sleep(0.2)
        reports = [s for s in seen if not isinstance(s, bytes)]
        assert [r.last("RRU.PrbUsedDl")[0] for r in reports] == [0, 10, 20, 30, 40]
        assert b"custom" in seen and reports[0].meid == "gnb_1" and reports[0].cell is None
        window = ctx.features.window("gnb_1", 3, np.empty((3, 2)))
        assert window[:, 0].tolist() == [20, 30, 40]
        (health,) = node.other
        assert health.mtype == MTYPES["RIC_HEALTH_CHECK_RESP"] and health.payload == b"OK\n"
        assert ctx.metrics.value("ranml_xapp_messages_malformed_total", xapp="probe", layer="e2ap") == 1
        assert ctx.metrics.value("ranml_xapp_messages_unhandled_total", xapp="probe") == 1
        assert not await ctx.switch_cell("gnb_1", NrCgi(b"\x00\xf1\x10", 1), True)  # refused: the helper says so
        assert ctx.metrics.value("ranml_xapp_controls_total", xapp="probe", outcome="failure") == 1
        # reports stop: the watchdog re-subscribes (a node restart loses subscriptions)
        node.subs.clear()
        await asyncio.sleep(3.8)
        assert list(node.subs) == [1] and ctx.subscriptions.resubscribed >= 1
        # overload: a burst larger than the queue drops the oldest, counted
        for _ in range(200):
            await node.t.send_to("xapp", RmrMessage(31001, b"x"))
        await asyncio.sleep(0.3)
        assert runner.dropped > 0 and len(runner.dispatcher) <= 50
        received = ctx.metrics.value("ranml_xapp_messages_received_total", xapp="probe",
                                     mtype=str(MTYPES["RIC_INDICATION"]))
        handled = len([s for s in seen if not isinstance(s, bytes)])
        final = await runner.stop()
        server.cancel()
        assert final["subscriptions_deleted"] == 1 and node.deleted == [1]
        # the report that crossed the delete was received (counted) but not handled after the stop
        final_received = ctx.metrics.value("ranml_xapp_messages_received_total", xapp="probe",
                                           mtype=str(MTYPES["RIC_INDICATION"]))
        assert final["ignored_at_stop"] == 1 and final_received == received + 1
        assert len([s for s in seen if not isinstance(s, bytes)]) == handled

    asyncio.run(main())
