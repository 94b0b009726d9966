"""One E2 node: subscription admission, report timing and aggregation, controls, restart."""

import numpy as np
import pytest

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")
pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")

from ranml.e2sim.network import Network
from ranml.e2sim.node import E2Node
from ranml.e2sim.scenario import CellSpec, NodeSpec, Scenario
from ranml.e2sim.traffic import TrafficTrace
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
    enumerated_ue_id,
)

PLMN = bytes.fromhex("00f110")
KPM = KpmCodec(3)


@pytest.fixture
def node():
    cells = [CellSpec(name=f"c{i}", capacity_mbps=100.0) for i in range(3)]
    net = Network(Scenario(traffic={"noise_sigma": 0.0}), cells, [0, 0, 1], [[1], [0], []],
                  TrafficTrace(60.0, np.array([[40.0, 20.0, 10.0]] * 2)))
    cgis = {NrCgi(PLMN, i + 1): i for i in range(3)}
    return E2Node(NodeSpec(name="gnb_001", gnb_id=1, cells=cells[:2]), [0, 1], net, PLMN, cgis)


def sub(instance, period_ms, *actions, function=2):
    return e2ap.SubscriptionRequest(5, instance, function, KPM.encode_event_trigger(period_ms), tuple(actions))


def action(i, names=("RRU.PrbUsedDl", "RRC.ConnMean"), gran=1000, cell=None):
    return (i, KPM.encode_action_definition(ActionDefinition(names, gran, cell=cell)))


def test_admission_rules(node):
    ok = node.subscribe(sub(1, 2000, action(1, cell=NrCgi(PLMN, 1)), action(2, names=("Bogus.Name",)),
                            action(3, gran=3000), action(4, cell=NrCgi(PLMN, 3)), (5, None)), "peer:1", 0.0, 1.0)
    assert isinstance(ok, e2ap.SubscriptionResponse)
    assert ok.admitted == (1,) and ok.not_admitted == (2, 3, 4, 5)  # unknown name, gran > period, foreign cell
    dup = node.subscribe(sub(1, 1000, action(1)), "peer:1", 0.0, 1.0)
    assert isinstance(dup, e2ap.SubscriptionFailure) and dup.cause == ("ricRequest", "duplicate-ric-request-id")
    rc = node.subscribe(sub(2, 1000, action(1), function=3), "peer:1", 0.0, 1.0)
    assert rc.cause == ("ricRequest", "ran-function-id-invalid")
    bad = node.subscribe(e2ap.SubscriptionRequest(5, 3, 2, b"\xff\xff", (action(1),)), "peer:1", 0.0, 1.0)
    assert bad.cause == ("ricRequest", "eventTriggerNotSupported") and node.counters.malformed_e2sm == 1
    sub_tick = node.subscribe(sub(4, 1000, action(1, gran=500)), "peer:1", 0.0, 1.0)
    assert sub_tick.cause == ("ricRequest", "action-not-supported")  # granularity finer than the tick


def test_reports_follow_period_and_granularity(node):
    node.subscribe(sub(1, 2000, action(1, names=("ranml.OfferedDl", "RRU.PrbUsedDl"), cell=NrCgi(PLMN, 1)),
                       action(2, names=("ranml.OfferedDl", "RRC.ConnMean", "PEE.AvgPower"))), "peer:1", 0.0, 1.0)
    out = []
    for _ in range(4):
        node.network.step(1.0)
        out += node.reports(node.network.time_s, 1_800_000_000.0)
    assert [(s.instance_id, i.action_id, i.sn) for s, i in out] == [(1, 1, 0), (1, 2, 1), (1, 1, 2), (1, 2, 3)]
    first = KPM.decode_indication_message(out[0][1].message)
    assert first.records == ((40.0, round(0.4 * 273)), (40.0, round(0.4 * 273))) and first.granularity_ms == 1000
    node_level = KPM.decode_indication_message(out[1][1].message)
    assert node_level.records[0][:2] == (60.0, 10 + 5)  # node sums: offered 40 + 20, UEs 10 + 5
    header = KPM.decode_indication_header(out[2][1].header)
    assert header.collect_start == pytest.approx(1_800_000_002.0) and header.sender_name == "gnb-001"


def test_controls_and_restart(node):
    node.network.step(1.0)
    rc, ccc = RcCodec(), CccCodec()
    ue1, ue3 = (GnbUeId(enumerated_ue_id(NrCgi(PLMN, i), 0), Guami(PLMN)) for i in (1, 3))
    h, m = rc.encode_handover(HandoverControl(ue1, NrCgi(PLMN, 2)))
    assert isinstance(node.control(e2ap.ControlRequest(5, 1, 3, h, m)), e2ap.ControlAck)
    h2, m2 = rc.encode_handover(HandoverControl(ue3, NrCgi(PLMN, 1)))
    foreign = node.control(e2ap.ControlRequest(5, 2, 3, h2, m2))  # UE of a cell on another node
    assert foreign.cause == ("ricRequest", "control-message-invalid")
    h3, m3 = ccc.encode_control(CellSwitchControl((CellSwitch(NrCgi(PLMN, 3), True),)))
    assert node.control(e2ap.ControlRequest(5, 3, 4, h3, m3)).cause == ("ricRequest", "control-message-invalid")
    h4, m4 = ccc.encode_control(CellSwitchControl((CellSwitch(NrCgi(PLMN, 2), True),)))
    assert isinstance(node.control(e2ap.ControlRequest(5, 4, 4, h4, m4)), e2ap.ControlAck)
    assert node.network.sleeping[1]
    assert node.control(e2ap.ControlRequest(5, 5, 2, h4, m4)).cause == ("ricRequest", "ran-function-id-invalid")
    node.subscribe(sub(9, 1000, action(1)), "peer:1", 1.0, 1.0)
    node.restart()
    assert not node.subscriptions and not node.up
    assert node.control(e2ap.ControlRequest(5, 6, 4, h4, m4)).cause == ("ricRequest", "system-not-ready")
    req = node.setup_request()
    assert {f[0] for f in req.ran_functions} == {2, 3, 4} and req.gnb_id == 1
    delete = node.delete(e2ap.SubscriptionDeleteRequest(5, 9, 2))
    assert isinstance(delete, e2ap.ErrorIndication) and delete.cause == ("ricRequest", "request-id-unknown")
