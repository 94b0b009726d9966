"""e2sim and an RMR peer (built on ranml.protocols) as separate processes on 127.0.0.1.

The peer (this test process) plays the RIC side: it answers E2 Setup, subscribes to KPM with a
1 s and a 2 s reporting period, decodes the indications, hands a UE over (one accepted, one
refused), switches a cell off and on again, deletes a subscription, and recovers from a node
restart (new E2 Setup, subscriptions lost, re-subscribed). Ground truth is read from e2sim's HTTP
API and compared with what the indications said.
"""

import asyncio
import itertools
import json
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict

import pytest

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")
pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")

from conftest import free_port
from ranml.protocols import e2ap
from ranml.protocols.e2sm import (
    ActionDefinition,
    CccCodec,
    CellSwitch,
    CellSwitchControl,
    GnbUeId,
    Guami,
    HandoverControl,
    KpmCodec,
    NrCgi,
    RcCodec,
)
from ranml.protocols.rmr import MTYPES, RmrMessage
from ranml.protocols.rmr.endpoint import RmrEndpoint

pytestmark = pytest.mark.integration

SPEED = 10.0
MEAS = ("RRU.PrbUsedDl", "ranml.ServedDl", "ranml.OfferedDl", "RRC.ConnMean", "PEE.AvgPower")
SCENARIO = """\
name: closed-loop-test
speed: {speed}
duration: 1h
start: "2026-03-02T12:00:00"
rmr: {{port: {rmr_port}, name: 127.0.0.1, routes: "newrt|start\\nrte|12001|127.0.0.1:{peer_port}\\nnewrt|end\\n"}}
topology: {{gnbs: 3, cells_per_gnb: 3, capacity_mbps: 300}}
traffic: {{source: synth, days: 1, seed: 3, peak_low: 0.3, peak_high: 0.4}}
energy: {{wake_delay: 5s}}
faults:
  - {{at: 80s, kind: restart, node: gnb_002, duration: 5s}}
"""


def http_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read())


class Peer:
    """RIC-side test peer: an RMR endpoint plus per-mtype queues."""

    def __init__(self, port, sim):
        self.ep = RmrEndpoint(port, name="127.0.0.1")
        self.sim = sim
        self.queues = defaultdict(asyncio.Queue)

    async def start(self):
        await self.ep.start()
        self.task = asyncio.create_task(self._pump())

    async def _pump(self):
        while True:
            msg = await self.ep.receive()
            if msg is not None:
                await self.queues[msg.mtype].put(msg)

    async def expect(self, mtype, timeout=15.0):
        return await asyncio.wait_for(self.queues[mtype].get(), timeout)

    async def request(self, mtype, message, meid, instance):
        await self.ep.send_to(self.sim, RmrMessage(mtype, e2ap.encode(message), instance, meid=meid))

    def drain(self, mtype):
        out = []
        while not self.queues[mtype].empty():
            out.append(self.queues[mtype].get_nowait())
        return out


async def answer_setups(peer, count):
    setups = {}
    for _ in range(count):
        msg = await peer.expect(MTYPES["RIC_E2_SETUP_REQ"])
        req = e2ap.decode(msg.payload)
        assert isinstance(req, e2ap.E2SetupRequest)
        setups[msg.meid] = req
        reply = e2ap.E2SetupResponse(req.transaction_id, bytes.fromhex("00f110"), 7,
                                     tuple((f[0], f[2]) for f in req.ran_functions))
        await peer.ep.rts(msg, RmrMessage(MTYPES["RIC_E2_SETUP_RESP"], e2ap.encode(reply)))
    return setups


def cells_of(setup):
    ccc = next(f for f in setup.ran_functions if f[0] == 4)
    return CccCodec().decode_ran_function(ccc[1])


async def subscribe(peer, kpm, meid, instance, period_ms, cells):
    actions = tuple((i + 1, kpm.encode_action_definition(ActionDefinition(MEAS, 1000, cell=c)))
                    for i, c in enumerate(cells))
    req = e2ap.SubscriptionRequest(1001, instance, 2, kpm.encode_event_trigger(period_ms), actions)
    await peer.request(MTYPES["RIC_SUB_REQ"], req, meid, instance)
    msg = await peer.expect(MTYPES["RIC_SUB_RESP"])
    resp = e2ap.decode(msg.payload)
    assert isinstance(resp, e2ap.SubscriptionResponse) and resp.instance_id == instance
    assert resp.admitted == tuple(a for a, _ in actions) and msg.meid == meid


async def control(peer, meid, function, header, message, instance):
    await peer.request(MTYPES["RIC_CONTROL_REQ"], e2ap.ControlRequest(1001, instance, function, header, message),
                       meid, instance)
    waiters = [asyncio.create_task(peer.expect(MTYPES["RIC_CONTROL_ACK"])),
               asyncio.create_task(peer.expect(MTYPES["RIC_CONTROL_FAILURE"]))]
    done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED, timeout=15)
    for task in pending:
        task.cancel()
    assert done, "no control acknowledge or failure within 15 s"
    return e2ap.decode(done.pop().result().payload)


async def until(predicate, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def scenario_run(peer, state_port):
    kpm, rc, ccc = KpmCodec(3), RcCodec(), CccCodec()
    setups = await answer_setups(peer, 3)
    assert sorted(setups) == ["gnb_001", "gnb_002", "gnb_003"]
    kpm_def = kpm.decode_ran_function(next(f[1] for f in setups["gnb_001"].ran_functions if f[0] == 2))
    assert set(MEAS) <= set(kpm_def.measurements)
    assert rc.decode_ran_function(next(f[1] for f in setups["gnb_001"].ran_functions if f[0] == 3)).supports(3, 1)
    cells1, cells2 = cells_of(setups["gnb_001"]), cells_of(setups["gnb_002"])

    # two subscriptions with their own periods: 1 s on gnb_001 (3 cells), 2 s on gnb_002 (1 cell)
    await subscribe(peer, kpm, "gnb_001", 7, 1000, cells1)
    await subscribe(peer, kpm, "gnb_002", 8, 2000, cells2[:1])
    await asyncio.sleep(2.5)  # 25 simulated seconds
    inds = [(m, e2ap.decode(m.payload)) for m in peer.drain(MTYPES["RIC_INDICATION"])]
    by_sub = defaultdict(list)
    for m, ind in inds:
        assert isinstance(ind, e2ap.Indication) and m.sub_id == ind.instance_id
        by_sub[(m.meid, ind.instance_id, ind.action_id)].append(ind)
    assert {k[:2] for k in by_sub} == {("gnb_001", 7), ("gnb_002", 8)}
    for (_, instance, _), items in by_sub.items():
        period = 1.0 if instance == 7 else 2.0
        starts = [kpm.decode_indication_header(i.header).collect_start for i in items]
        assert all(abs(b - a - period) < 1e-6 for a, b in itertools.pairwise(starts)), starts
        assert [i.sn for i in items] == sorted(i.sn for i in items)
        for ind in items:
            msg = kpm.decode_indication_message(ind.message)
            assert msg.measurements == MEAS and msg.granularity_ms == 1000
            assert len(msg.records) == int(period)
            for prb, served, offered, ues, power in msg.records:
                assert prb == round(served / 300 * 273)  # PRB usage is served / capacity × PRBs
                assert 0 < served <= offered + 1e-6 and ues >= 1 and power > 260
    assert len(by_sub[("gnb_001", 7, 1)]) >= 15  # ~25 indications expected in 25 simulated seconds

    state = http_json(state_port, "/state")
    cells = {c["name"]: c for c in state["cells"]}
    # a handover into a neighbour is acked; into a non-neighbour it fails with a cause
    ue = cells["gnb_001_c1"]["ue_ids"][0]
    guami = Guami(bytes.fromhex("00f110"))
    h, m = rc.encode_handover(HandoverControl(GnbUeId(ue, guami), cells1[1]))
    ack = await control(peer, "gnb_001", 3, h, m, 21)
    assert isinstance(ack, e2ap.ControlAck), ack
    far = NrCgi(bytes.fromhex("00f110"), cells["gnb_003_c3"]["nr_cell_id"])
    h, m = rc.encode_handover(HandoverControl(GnbUeId(ue, guami), far))
    fail = await control(peer, "gnb_001", 3, h, m, 22)
    assert isinstance(fail, e2ap.ControlFailure) and fail.cause == ("ricRequest", "control-failed-to-execute")
    totals = http_json(state_port, "/totals")
    assert totals["handovers_ok"] == 1 and totals["handovers_failed"] == 1
    steered = {c["name"]: c["steered_mbps"] for c in http_json(state_port, "/state")["cells"]}
    assert steered["gnb_001_c2"] > 0 > steered["gnb_001_c1"]

    # cell off: acked, the cell sleeps and serves nothing; cell on: wakes after the wake-up delay
    h, m = ccc.encode_control(CellSwitchControl((CellSwitch(cells1[2], True),)))
    assert isinstance(await control(peer, "gnb_001", 4, h, m, 23), e2ap.ControlAck)
    assert await until(lambda: (c := {x["name"]: x for x in http_json(state_port, "/state")["cells"]})["gnb_001_c3"][
        "sleeping"] and c["gnb_001_c3"]["served_mbps"] == 0 and c["gnb_001_c3"]["power_w"] == 35)
    peer.drain(MTYPES["RIC_INDICATION"])
    await asyncio.sleep(0.5)
    asleep = [kpm.decode_indication_message(e2ap.decode(x.payload).message)
              for x in peer.drain(MTYPES["RIC_INDICATION"])
              if e2ap.decode(x.payload).action_id == 3 and x.meid == "gnb_001"]
    assert asleep and all(r[0][1] == 0 for r in (a.records for a in asleep[1:]))  # nothing served while asleep
    h, m = ccc.encode_control(CellSwitchControl((CellSwitch(cells1[2], False),)))
    assert isinstance(await control(peer, "gnb_001", 4, h, m, 24), e2ap.ControlAck)
    on = http_json(state_port, "/state")
    assert on["cells"][2]["name"] == "gnb_001_c3" and on["cells"][2]["waking"]  # wake-up delay: 5 simulated s
    assert await until(lambda: not (c := http_json(state_port, "/state")["cells"][2])["sleeping"] and not c["waking"])
    awake = http_json(state_port, "/state")
    assert awake["simulated_s"] - on["simulated_s"] >= 4 and not awake["cells"][2]["waking"]
    assert http_json(state_port, "/totals")["cell_switches"] == 2

    # subscription delete: response, then no more indications for it
    await peer.request(MTYPES["RIC_SUB_DEL_REQ"], e2ap.SubscriptionDeleteRequest(1001, 7, 2), "gnb_001", 7)
    resp = e2ap.decode((await peer.expect(MTYPES["RIC_SUB_DEL_RESP"])).payload)
    assert isinstance(resp, e2ap.SubscriptionDeleteResponse) and resp.instance_id == 7
    await asyncio.sleep(0.3)
    peer.drain(MTYPES["RIC_INDICATION"])
    await asyncio.sleep(1.0)
    assert not [x for x in peer.drain(MTYPES["RIC_INDICATION"]) if x.meid == "gnb_001"]

    # node restart at simulated 80 s: a new E2 Setup arrives, the old subscription is gone; re-subscribe
    again = await answer_setups(peer, 1)
    assert list(again) == ["gnb_002"]
    node2 = next(n for n in http_json(state_port, "/state")["nodes"] if n["name"] == "gnb_002")
    assert node2["restarts"] == 1 and node2["active_subscriptions"] == []
    peer.drain(MTYPES["RIC_INDICATION"])
    await subscribe(peer, kpm, "gnb_002", 9, 1000, cells2[:1])
    first = await peer.expect(MTYPES["RIC_INDICATION"], timeout=5)
    assert first.meid == "gnb_002" and e2ap.decode(first.payload).instance_id == 9

    # garbage never crashes e2sim: it is counted
    await peer.ep.send_to(peer.sim, RmrMessage(MTYPES["RIC_SUB_REQ"], b"\x00\xff garbage", 1, meid="gnb_001"))
    await peer.request(MTYPES["RIC_CONTROL_REQ"], e2ap.ControlRequest(1001, 30, 3, b"\x01\x02", b"\x03"), "gnb_001", 30)
    bad = e2ap.decode((await peer.expect(MTYPES["RIC_CONTROL_FAILURE"])).payload)
    assert bad.cause == ("ricRequest", "control-message-invalid")
    assert await until(lambda: http_json(state_port, "/summary")["e2"]["malformed_e2ap"] == 1)
    assert http_json(state_port, "/summary")["e2"]["malformed_e2sm"] >= 1


def test_e2sim_and_peer_processes_close_the_loop(tmp_path):
    rmr_port, peer_port, state_port = free_port(), free_port(), free_port()
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(speed=SPEED, rmr_port=rmr_port, peer_port=peer_port))
    summary_file = tmp_path / "summary.json"

    async def main():
        peer = Peer(peer_port, f"127.0.0.1:{rmr_port}")
        await peer.start()
        proc = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "e2sim", "run", str(path),
                                 "--state-port", str(state_port), "--json-summary", str(summary_file)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            await scenario_run(peer, state_port)
        finally:
            proc.terminate()
            out, err = proc.communicate(timeout=20)
            print("e2sim stderr:", err[-5000:])  # shown by pytest when the test fails
            peer.task.cancel()
            await peer.ep.close()
        assert proc.returncode == 0, err[-3000:]
        return json.loads(out)

    final = asyncio.run(main())
    assert final["totals"]["handovers_ok"] == 1 and final["e2"]["restarts"] == 1
    summary = json.loads(summary_file.read_text())
    assert summary["e2"]["subscriptions"] == 3 and summary["e2"]["deletes"] == 1
    assert summary["e2"]["controls_ok"] == 3 and summary["e2"]["controls_failed"] == 2
