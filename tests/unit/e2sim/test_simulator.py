"""The simulator in one event loop with a peer: faults on the wire, bad input, the HTTP API."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")
pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")

from conftest import free_port
from ranml.config import parse_mapping
from ranml.e2sim import Scenario, Simulator
from ranml.e2sim.simulator import auto_neighbours
from ranml.protocols import e2ap
from ranml.protocols.e2sm import ActionDefinition, KpmCodec
from ranml.protocols.rmr import MTYPES, RmrMessage
from ranml.protocols.rmr.endpoint import RmrEndpoint


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_auto_neighbours_ring_and_intra_node():
    n = auto_neighbours([[0, 1], [2, 3], [4, 5]])
    assert n[0] == {1, 2, 4} and n[3] == {2, 1, 5}
    assert auto_neighbours([[0, 1]]) == [{1}, {0}]


def test_faults_bad_input_and_ground_truth_api():
    async def main():
        sim_port, peer_port = free_port(), free_port()
        scenario = parse_mapping(Scenario, {
            "speed": 50, "duration": "1h", "topology": {"gnbs": 1, "cells_per_gnb": 2},
            "traffic": {"days": 1}, "rmr": {"port": sim_port, "name": "127.0.0.1"},
            "faults": [{"at": "20s", "kind": "disconnect", "duration": "20s"},
                       {"at": "60s", "kind": "drop", "duration": "1h", "percent": 100}]})
        sim = Simulator(scenario, state_port=0)
        await sim.start()
        run = asyncio.create_task(sim.run())
        peer = await RmrEndpoint(peer_port, name="127.0.0.1").start()
        kpm = KpmCodec()
        try:
            req = e2ap.SubscriptionRequest(1, 1, 2, kpm.encode_event_trigger(1000),
                                           ((1, kpm.encode_action_definition(ActionDefinition(("RRC.ConnMean",),
                                                                                              1000))),))
            await peer.send_to(f"127.0.0.1:{sim_port}", RmrMessage(MTYPES["RIC_SUB_REQ"], e2ap.encode(req), 1,
                                                                   meid="gnb_001"))
            assert (await peer.receive(5)).mtype == MTYPES["RIC_SUB_RESP"]
            # garbage on the wire: an implausible frame, an unknown mtype, a bad MEID; e2sim keeps going
            _, writer = await asyncio.open_connection("127.0.0.1", sim_port)
            writer.write(b"\x05\x00\x00\x00" + b"\xff" * 64)  # announces a 5-byte frame
            await writer.drain()
            writer.close()
            await peer.send_to(f"127.0.0.1:{sim_port}", RmrMessage(4242, b"?", meid="gnb_001"))
            await peer.send_to(f"127.0.0.1:{sim_port}", RmrMessage(MTYPES["RIC_SUB_REQ"], e2ap.encode(req), 1,
                                                                   meid="nobody"))
            times, others = [], []
            while sim.network.time_s < 75:
                msg = await peer.receive(0.2)
                if msg is not None and msg.mtype == MTYPES["RIC_INDICATION"]:
                    times.append(kpm.decode_indication_header(e2ap.decode(msg.payload).header).collect_start)
                elif msg is not None:
                    others.append(msg.mtype)
            assert others == [MTYPES["RIC_SUB_FAILURE"]]  # the subscription for an unknown RAN name
            offsets = sorted(round(t - sim.epoch_s) for t in times)
            assert offsets[0] < 20 and offsets[1:3] == [offsets[0] + 1, offsets[0] + 2]  # one per second
            assert not [o for o in offsets if 21 <= o < 39]  # disconnected: nothing got through
            assert [o for o in offsets if 40 <= o < 58]  # reconnected by re-dialling
            assert not [o for o in offsets if o >= 61]  # everything dropped
            status, state = await asyncio.to_thread(get, sim.state_port, "/state")
            assert status == 200 and len(state["cells"]) == 2 and state["simulated_s"] >= 75
            status, nodeb = await asyncio.to_thread(get, sim.state_port, "/v1/nodeb/gnb_001")
            assert status == 200 and [f["ranFunctionId"] for f in nodeb["gnb"]["ranFunctions"]] == [2, 3, 4]
            assert (await asyncio.to_thread(get, sim.state_port, "/v1/nodeb/x"))[0] == 404
            assert (await asyncio.to_thread(get, sim.state_port, "/nope"))[0] == 404
            # the oracle's true future: keys are the cells' NR CGI text, as xApps key their reports
            start = sim.epoch_s + sim.network.time_s - 10
            status, future = await asyncio.to_thread(get, sim.state_port, f"/future/{start}/5/4")
            keys = {f"{c['plmn']}:{c['nr_cell_id']:09x}" for c in state["cells"]}
            assert status == 200 and set(future["cells"]) == keys
            assert all(len(v) == 4 and min(v) >= 0 for v in future["cells"].values())
            assert (await asyncio.to_thread(get, sim.state_port, "/future/x/5/4"))[0] == 400
            assert (await asyncio.to_thread(get, sim.state_port, f"/future/{start}/5/999"))[0] == 400
            assert (await asyncio.to_thread(get, sim.state_port, f"/future/{sim.epoch_s - 7200}/5/2"))[0] == 400
        finally:
            sim.stop()
            summary = await run
            await sim.close()
            await peer.close()
        assert summary["e2"]["unknown_mtypes"] == 1 and summary["e2"]["unknown_meid"] == 1, summary["e2"]
        assert summary["rmr"]["closed_bad_length"] == 1
        assert summary["faults"]["dropped"] > 10

    asyncio.run(main())
