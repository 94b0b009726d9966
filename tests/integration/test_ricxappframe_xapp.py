"""An OSC-framework xApp (ricxappframe 3.2.2's ``RMRXapp``, unmodified, on a real librmr) against ranml's e2sim.

The xApp process (``osc_kpm_monitor_xapp.py``) is configured as an OSC pod is: seed route table
file, no Route Manager, its own control port. It subscribes to two e2sim nodes, receives KPM
indications through the framework's callbacks, answers a RIC health check with the framework's own
handler and deletes its subscriptions. Expected values come from e2sim's ground-truth summary and
from the E2AP/E2SM decoders, not from the xApp.
"""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")

from conftest import free_port
from ranml.protocols import e2ap
from ranml.protocols.e2sm.kpm import ActionDefinition, KpmCodec
from ranml.protocols.rmr import RmrMessage
from ranml.protocols.rmr.endpoint import RmrEndpoint
from ranml.xapp.osc_transport import librmr_available

REASON = librmr_available()
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(REASON is not None, reason=f"librmr_si.so is not installed here ({REASON}); "
                                                          "build it as .ci/run does (shared/vendor README)")]

SCENARIO = """\
name: osc-xapp
speed: 600
duration: 2h
start: "2026-03-02T09:00:00"
topology: {gnbs: 2, cells_per_gnb: 2, capacity_mbps: 300}
traffic: {source: synth, days: 1, seed: 5}
"""
REQUESTOR = 2024
MEASUREMENTS = ("RRU.PrbUsedDl", "DRB.UEThpDl")


def requests() -> list[dict[str, object]]:
    kpm = KpmCodec()
    out = []
    for instance, meid in ((1, "gnb_001"), (2, "gnb_002")):
        sub = e2ap.SubscriptionRequest(REQUESTOR, instance, 2, kpm.encode_event_trigger(60_000),
                                       ((1, kpm.encode_action_definition(ActionDefinition(MEASUREMENTS, 60_000))),))
        delete = e2ap.SubscriptionDeleteRequest(REQUESTOR, instance, 2)
        out.append({"meid": meid, "instance": instance, "subscribe": e2ap.encode(sub).hex(),
                    "delete": e2ap.encode(delete).hex()})
    return out


def health_check(port: int) -> RmrMessage:
    async def main() -> RmrMessage:
        async with RmrEndpoint(free_port(), name="127.0.0.1") as probe:
            return await probe.call(RmrMessage(100, b"ping"), endpoint=f"127.0.0.1:{port}", timeout=10)

    return asyncio.run(main())


def test_an_unmodified_ricxappframe_xapp_subscribes_receives_and_deletes(tmp_path: Path):
    sim_port, state_port, xapp_port = free_port(), free_port(), free_port()
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    routes = tmp_path / "routes.rt"
    routes.write_text(f"newrt|start\nrte|12010|127.0.0.1:{sim_port}\nrte|12020|127.0.0.1:{sim_port}\nnewrt|end\n")
    (tmp_path / "requests.json").write_text(json.dumps(requests()))
    env = {**os.environ, "RMR_SRC_ID": "127.0.0.1", "RMR_SEED_RT": str(routes)}
    summary = tmp_path / "e2sim.json"
    sim = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "e2sim", "run", str(tmp_path / "scenario.yaml"),
                            "--rmr-port", str(sim_port), "--state-port", str(state_port), "--json-summary",
                            str(summary), "--hold", "30"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    xapp = None
    try:
        assert "state_port" in sim.stderr.readline()
        xapp = subprocess.Popen([sys.executable, str(Path(__file__).with_name("osc_kpm_monitor_xapp.py")),
                                 str(xapp_port), str(tmp_path / "requests.json"), str(tmp_path / "got.json"), "6"],
                                env={**env, "RMR_RTG_SVC": "-1", "RMR_CTL_PORT": str(free_port())},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in xapp.stdout:  # mdclogpy logs to stdout too
            if "OSC-XAPP-READY" in line:
                break
        reply = health_check(xapp_port)
        assert (reply.mtype, reply.payload) == (101, b"OK\n")  # the framework's own handler
        rest = xapp.communicate(timeout=120)[0]
        assert xapp.returncode == 0, rest[-3000:]
        assert sim.wait(timeout=120) == 0, sim.stderr.read()[-3000:]
    finally:
        for p in (xapp, sim):
            if p is not None and p.poll() is None:
                p.kill()
    got = json.loads((tmp_path / "got.json").read_text())
    truth = json.loads(summary.read_text())
    assert got["send_states"] == [0, 0] and got["delete_states"] == [0, 0] and got["enough"]
    responses = [e2ap.decode(bytes.fromhex(r["payload"])) for r in got["responses"]]
    assert sorted((type(m).__name__, m.requestor_id, m.instance_id, m.admitted) for m in responses) == [
        ("SubscriptionResponse", REQUESTOR, 1, (1,)), ("SubscriptionResponse", REQUESTOR, 2, (1,))]
    assert {r["meid"] for r in got["responses"]} == {"gnb_001", "gnb_002"}
    kpm = KpmCodec()
    for raw in got["indications"]:
        ind = e2ap.decode(bytes.fromhex(raw["payload"]))
        assert isinstance(ind, e2ap.Indication) and ind.requestor_id == REQUESTOR
        assert raw["sub_id"] == ind.instance_id and raw["meid"] == ("gnb_001", "gnb_002")[ind.instance_id - 1]
        message = kpm.decode_indication_message(ind.message)
        assert message.measurements == MEASUREMENTS and message.records
    deleted = [e2ap.decode(bytes.fromhex(r["payload"])) for r in got["delete_responses"]]
    assert sorted(m.instance_id for m in deleted) == [1, 2]
    assert all(isinstance(m, e2ap.SubscriptionDeleteResponse) for m in deleted)
    assert truth["e2"]["deletes"] == 2 and truth["e2"]["indications_sent"] >= len(got["indications"]) >= 6
    assert truth["e2"]["malformed_e2ap"] == 0 and got["other"] == []
