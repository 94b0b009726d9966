"""A1 policies: the mediator's RMR JSON, the SDK's on_policy dispatch, sleep schedules, the A1
mediator stand-in's REST API, and the energy-saving xApp honouring a schedule."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from ranml.e2sim.a1mediator import A1Mediator
from ranml.errors import ConfigError
from ranml.protocols.a1policies import SLEEP_SCHEDULE, TRAFFIC_STEERING, SleepSchedule
from ranml.protocols.rmr import MTYPES, RmrMessage
from ranml.xapp import RunnerSettings, XApp, XAppRunner
from ranml.xapp.a1 import parse_policy_request, policy_response
from ranml.xapp.transport import MemoryHub

REQ, RESP = MTYPES["A1_POLICY_REQ"], MTYPES["A1_POLICY_RESP"]


def _req(op, instance, payload, type_id=21000):
    return json.dumps({"operation": op, "policy_type_id": type_id, "policy_instance_id": instance,
                       "payload": payload}).encode()


def test_policy_request_parsing_and_answers():
    r = parse_policy_request(_req("create", "a", {"x": 1}))
    assert (r.operation, r.policy_type_id, r.policy_instance_id, r.payload) == ("CREATE", 21000, "a", {"x": 1})
    assert parse_policy_request(_req("UPDATE", "a", json.dumps({"y": 2}))).payload == {"y": 2}
    for bad, why in ((b"{", "not JSON"), (b"[1]", "JSON object"), (_req("PATCH", "a", {}), "operation"),
                     (json.dumps({"operation": "CREATE"}).encode(), "policy_type_id"),
                     (_req("CREATE", "a", [1]), "payload")):
        with pytest.raises(ConfigError, match=why):
            parse_policy_request(bad)
    answer = json.loads(policy_response(r, "es", True))
    assert answer == {"policy_type_id": 21000, "policy_instance_id": "a", "handler_id": "es", "status": "OK"}
    assert json.loads(policy_response(parse_policy_request(_req("DELETE", "a", {})), "es", True))["status"] == "DELETED"
    assert json.loads(policy_response(r, "es", False))["status"] == "ERROR"


def test_sleep_schedule_windows():
    s = SleepSchedule.parse({"cells": {"c1": [[100, 200], [150, 300], [500, 600]], "c2": []}})
    assert s.windows["c1"] == [(100, 300), (500, 600)] and s.covers("c2") and not s.covers("c3")
    assert s.window_at("c1", 299.9) == (100, 300) and s.window_at("c1", 300) is None
    assert s.window_at("c1", 99) is None and s.window_at("c3", 150) is None
    assert s.sleeps_within("c1", 450, 60) and not s.sleeps_within("c1", 350, 60) and s.sleeps_within("c1", 120, 0)
    combined = SleepSchedule.combine([{"cells": {"c1": [[0, 10]]}}, {"cells": {"c1": [[5, 20]], "c2": [[1, 2]]}}])
    assert combined.windows == {"c1": [(0, 20)], "c2": [(1, 2)]}
    with pytest.raises(ConfigError, match=r"cells.c1\[0\]: end 1.0 is not after start 5.0"):
        SleepSchedule.parse({"cells": {"c1": [[5, 1]]}})
    with pytest.raises(ConfigError, match=r"cells.c1\[0\] must be \[start, end\]"):
        SleepSchedule.parse({"cells": {"c1": [["a"]]}})
    assert SLEEP_SCHEDULE.definition()["policy_type_id"] == 21000 and TRAFFIC_STEERING.policy_type_id == 20008


def test_on_policy_dispatch_keeps_instances_and_answers():
    app = XApp("pol", version="0.1.0")
    seen = []

    @app.on_policy(21000)
    async def schedule(ctx, request):
        if request.payload.get("bad"):
            raise ValueError("bad instance")
        seen.append((request.operation, request.policy_instance_id))

    with pytest.raises(ConfigError, match="already registered"):
        app.on_policy(21000)(schedule)
    other = XApp("plain")
    other.on("A1_POLICY_REQ")(schedule)
    with pytest.raises(ConfigError, match="plain handler"):
        other.on_policy(20008)(schedule)
    assert MTYPES["A1_POLICY_REQ"] in app.rx_mtypes() and MTYPES["A1_POLICY_QUERY"] in app.tx_mtypes()

    async def main():
        hub = MemoryHub()
        hub.route(MTYPES["A1_POLICY_QUERY"], "a1")
        a1 = hub.endpoint("a1")
        await a1.start()
        runner = XAppRunner(app, hub.endpoint("xapp"), RunnerSettings(http_port=None, state="memory"))
        ctx = await runner.start()
        query = await asyncio.wait_for(a1.receive(), 2)
        assert query.mtype == MTYPES["A1_POLICY_QUERY"] and json.loads(query.payload) == {"policy_type_id": 21000}

        async def send(payload, type_id=21000):
            await a1.send_to("xapp", RmrMessage(REQ, payload, sub_id=type_id))
            return json.loads((await asyncio.wait_for(a1.receive(), 2)).payload)

        assert (await send(_req("CREATE", "p1", {"cells": {}})))["status"] == "OK"
        assert (await send(_req("CREATE", "p2", {"bad": True})))["status"] == "ERROR"
        assert (await send(_req("CREATE", "x", {}, type_id=20008), 20008))["status"] == "ERROR"  # not handled here
        await a1.send_to("xapp", RmrMessage(REQ, b"junk"))  # ignored, no crash, no answer
        assert ctx.policies == {21000: {"p1": {"cells": {}}}}
        assert ctx.state.get("a1_policies") == {"21000": {"p1": {"cells": {}}}}
        assert (await send(_req("DELETE", "p1", {})))["status"] == "DELETED"
        assert ctx.policies == {21000: {}} and seen == [("CREATE", "p1"), ("DELETE", "p1")]
        await runner.stop()

    asyncio.run(main())


def test_mediator_rest_api_and_delivery():
    sent: list[RmrMessage] = []
    direct: list[tuple[str, RmrMessage]] = []

    async def send(msg):
        raise RuntimeError("no route")

    async def send_to(peer, msg):
        direct.append((peer, msg))

    async def main():
        m = A1Mediator(send, send_to, lambda: {"127.0.0.1:4560"})
        http = m.http
        assert await http("GET", "/A1-P/v2/healthcheck", b"") == (200, {"status": "OK"})
        assert (await http("PUT", "/A1-P/v2/policytypes/21000/policies/x", b"{}"))[0] == 404  # no type yet
        assert (await http("PUT", "/A1-P/v2/policytypes/21000", json.dumps({"create_schema": {"type": 7}}).encode())
                )[0] == 400
        assert await http("PUT", "/A1-P/v2/policytypes/21000", json.dumps(SLEEP_SCHEDULE.definition()).encode()) \
            == (201, None)
        assert (await http("PUT", "/A1-P/v2/policytypes/21000", json.dumps(SLEEP_SCHEDULE.definition()).encode())
                )[0] == 400  # immutable
        code, body = await http("PUT", "/A1-P/v2/policytypes/21000/policies/d", b'{"cells": {"c": [[1]]}}')
        assert code == 400 and "cells/c/0" in body["error"]
        assert (await http("PUT", "/A1-P/v2/policytypes/21000/policies/d", b'{"cells": {"c": [[1, 2]]}}'))[0] == 202
        (peer, msg), = direct
        assert peer == "127.0.0.1:4560" and msg.mtype == REQ and msg.sub_id == 21000
        assert json.loads(msg.payload)["operation"] == "CREATE"
        status = (await http("GET", "/A1-P/v2/policytypes/21000/policies/d/status", b""))[1]
        assert status["instance_status"] == "NOT IN EFFECT"
        answer = RmrMessage(RESP, json.dumps({"policy_type_id": 21000, "policy_instance_id": "d",
                                              "handler_id": "es", "status": "OK"}).encode(), src="127.0.0.1:4560")
        assert await m.handle_rmr(answer)
        status = (await http("GET", "/A1-P/v2/policytypes/21000/policies/d/status", b""))[1]
        assert status["instance_status"] == "IN EFFECT" and status["handlers"] == {"es": "OK"}
        assert await http("GET", "/A1-P/v2/policytypes/21000/policies", b"") == (200, ["d"])
        assert (await http("DELETE", "/A1-P/v2/policytypes/21000", b""))[0] == 400  # still has instances
        query = RmrMessage(MTYPES["A1_POLICY_QUERY"], b'{"policy_type_id": 21000}', src="127.0.0.1:4999")
        assert await m.handle_rmr(query)
        assert direct[-1][0] == "127.0.0.1:4999"
        assert await m.handle_rmr(RmrMessage(RESP, b"junk")) and m.counters["malformed"] == 1
        assert not await m.handle_rmr(RmrMessage(12050, b""))
        assert (await http("DELETE", "/A1-P/v2/policytypes/21000/policies/d", b""))[0] == 202
        assert json.loads(direct[-1][1].payload)["operation"] == "DELETE"
        deleted = RmrMessage(RESP, json.dumps({"policy_type_id": 21000, "policy_instance_id": "d",
                                               "handler_id": "es", "status": "DELETED"}).encode())
        await m.handle_rmr(deleted)
        assert await http("GET", "/A1-P/v2/policytypes/21000/policies", b"") == (200, [])
        assert (await http("GET", "/A1-P/v2/nope", b""))[0] == 404

    asyncio.run(main())
    assert not sent


def test_energy_saving_honours_the_sleep_schedule():
    """The xApp on real reports of one node (coverage cell 1, capacity cells 2 and 3, low load):
    the scheduled cell 2 sleeps only inside its window and is woken before the window ends; the
    unscheduled cell 3 follows the plan."""
    from ranml.protocols.e2sm import NrCgi
    from ranml.xapp.app import CellReport
    from ranml.xapp.apps import energy_saving as es
    from ranml.xapp.cell_load import MEASUREMENTS, LoadModel

    switches = []

    class Ctx(SimpleNamespace):
        async def switch_cell(self, meid, cgi, sleep):
            switches.append((cgi.cell_id, sleep))
            return True

    settings = es.EnergySavingSettings(policy="reactive", min_dwell_periods=0)
    schedule = SleepSchedule.parse({"cells": {"00f110:000000002": [[1000, 5000]]}})
    load = LoadModel(settings)
    ctx = Ctx(config=settings, app_state=es.EnergySavingState(load, schedule),
              counters={"switch_off": 0, "switch_on": 0, "switch_refused": 0, "plans": 0},
              state=SimpleNamespace(set=lambda *a: None))

    def period(t):  # every cell of the node reports the period ending at t
        for cell in (1, 2, 3):
            off = dict(switches).get(cell, False)  # the last switch of the cell: asleep?
            used, avail = (0.0, 0) if off else (15.0, 273)
            r = CellReport("gnb_1", NrCgi(b"\x00\xf1\x10", cell), t - 60.0, 60.0, MEASUREMENTS,
                           ((used, avail, 5, 300.0),))
            asyncio.run(es.report(ctx, r))

    period(440)  # the node's first period: its cells are learnt, nothing is decided
    assert switches == []
    period(500)  # cell 2 is scheduled and before its window: stays on; cell 3 is not scheduled: sleeps
    assert switches == [(3, True)]
    for t in range(560, 1000, 60):
        period(t)
    assert switches == [(3, True)]  # cell 2 still outside its window
    period(1040)  # inside the window: cell 2 sleeps
    assert switches[-1] == (2, True)
    for t in range(1100, 4700, 60):
        period(t)  # asleep, window still long: stays asleep
    assert switches == [(3, True), (2, True)]
    period(4760)  # 240 s before the end (lead 300 s): wakes, whatever the plan says
    assert switches[-1] == (2, False)


def test_traffic_steering_takes_its_band_from_a1_and_avoids_cells_about_to_sleep():
    from ranml.xapp.a1 import PolicyRequest
    from ranml.xapp.apps import traffic_steering as ts

    saved = {}
    settings = ts.TrafficSteeringSettings()
    no_schedule = SleepSchedule.parse({"cells": {}})
    state = ts.TrafficSteeringState(SimpleNamespace(), (settings.high, settings.low), no_schedule)
    ctx = SimpleNamespace(config=settings, app_state=state, policies={}, state=SimpleNamespace(set=saved.__setitem__))
    asyncio.run(ts.band_policy(ctx, PolicyRequest("CREATE", 20008, "b", {"high": 0.75, "low": 0.5})))
    assert ctx.app_state.band == (0.75, 0.5) and saved["band"] == [0.75, 0.5]
    with pytest.raises(ValueError, match="low < high"):
        asyncio.run(ts.band_policy(ctx, PolicyRequest("UPDATE", 20008, "b", {"high": 0.4, "low": 0.5})))
    asyncio.run(ts.band_policy(ctx, PolicyRequest("DELETE", 20008, "b", {})))
    assert ctx.app_state.band == (settings.high, settings.low)  # back to the configured band
    schedule = {"cells": {"00f110:000000003": [[1000, 2000]]}}
    asyncio.run(ts.sleep_schedule(ctx, PolicyRequest("CREATE", 21000, "day-ahead", schedule)))
    assert ctx.app_state.schedule.sleeps_within("00f110:000000003", 900, 240)
    assert not ctx.app_state.schedule.sleeps_within("00f110:000000003", 500, 240)
