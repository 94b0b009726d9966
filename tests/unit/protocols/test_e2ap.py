"""E2AP typed messages through pycrate's APER codec: round trips and malformed input."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pycrate_asn1dir", reason="E2AP needs pycrate: pip install 'ranml[ric]'")

from ranml.protocols import e2ap
from ranml.protocols.e2sm import ActionDefinition, KpmCodec

KPM = KpmCodec()

MESSAGES = [
    e2ap.E2SetupRequest(1, b"\x00\xf1\x10", 0x1234, ((2, b"kpm-definition", 1, "1.3.6.1.4.1.53148.1.2.2.2"),
                                                        (3, b"rc-definition", 1, "1.3.6.1.4.1.53148.1.1.2.3"))),
    e2ap.E2SetupResponse(1, b"\x00\xf1\x10", 0xABCDE, ((2, 1), (3, 1))),
    e2ap.E2SetupFailure(1, ("misc", "unspecified")),
    e2ap.ErrorIndication(requestor_id=1, instance_id=2, ran_function_id=2,
                         cause=("protocol", "abstract-syntax-error-reject")),
    e2ap.Indication(1, 2, 2, 1, header=b"\x01\x02", message=b"\x03" * 64, sn=7),
    e2ap.SubscriptionRequest(
        1, 2, 2, KPM.encode_event_trigger(1000),
        ((1, KPM.encode_action_definition(ActionDefinition(("RRU.PrbUsedDl",), 1000))), (2, None)),
    ),
    e2ap.SubscriptionResponse(1, 2, 2, admitted=(1,), not_admitted=(2,)),
    e2ap.SubscriptionFailure(1, 2, 2, cause=("ricRequest", "ran-function-id-invalid")),
    e2ap.SubscriptionDeleteRequest(1, 2, 2),
    e2ap.SubscriptionDeleteResponse(1, 2, 2),
    e2ap.ControlRequest(1, 3, 3, header=b"\x10\x20", message=b"\x30" * 30),
    e2ap.ControlAck(1, 3, 3, outcome=b"\x01"),
    e2ap.ControlFailure(1, 3, 3, cause=("ricRequest", "control-message-invalid")),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=[type(m).__name__ for m in MESSAGES])
def test_roundtrip(msg):
    assert e2ap.decode(e2ap.encode(msg)) == msg


def test_indication_carries_a_kpm_payload():
    from ranml.protocols.e2sm import IndicationHeader, IndicationMessage

    header = KPM.encode_indication_header(IndicationHeader(1_795_000_000.0))
    body = KPM.encode_indication_message(IndicationMessage(((55, 12.5),), ("RRU.PrbUsedDl", "DRB.UEThpDl"), 1000))
    ind = e2ap.decode(e2ap.encode(e2ap.Indication(7, 1, 2, 1, header, body, sn=3)))
    assert KPM.decode_indication_message(ind.message).records == ((55, 12.5),)


def test_bad_values_are_clear_errors():
    with pytest.raises(e2ap.E2apError, match="cannot encode"):
        e2ap.encode(e2ap.SubscriptionDeleteRequest(70000, 0, 0))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_malformed_bytes_raise_e2ap_error_only(blob):
    with contextlib.suppress(e2ap.E2apError):
        e2ap.decode(blob)


FUNCS = ((2, b"kpm-definition", 1, "1.3.6.1.4.1.53148.1.2.2.2"),)


@pytest.mark.parametrize(("node_type", "bits"), [("gNB", 22), ("gNB", 32), ("en-gNB", 24), ("ng-eNB", 20),
                                                 ("ng-eNB", 18), ("ng-eNB", 21), ("eNB", 20), ("eNB", 28),
                                                 ("eNB", 18), ("eNB", 21)])
def test_every_global_e2_node_id_kind_round_trips(node_type, bits):
    req = e2ap.E2SetupRequest(4, b"\x00\xf1\x10", (1 << bits) - 3, FUNCS, bits, "amf-1", node_type)
    assert e2ap.decode(e2ap.encode(req)) == req


def test_node_components_of_every_interface_round_trip():
    components = (e2ap.E2NodeComponent("ng", {"amf-name": "amf-a"}, b"ng-setup", b"ng-ok"),
                  e2ap.E2NodeComponent("f1", {"gNB-DU-ID": 7}, b"f1-setup", b"f1-ok"),
                  e2ap.E2NodeComponent("e1", {"gNB-CU-UP-ID": 9}, b"e1", b"e1"))
    req = e2ap.E2SetupRequest(1, b"\x00\xf1\x10", 5, FUNCS, 22, "amf-a", "gNB", components)
    assert e2ap.decode(e2ap.encode(req)) == req
    plain = e2ap.E2SetupRequest(1, b"\x00\xf1\x10", 5, FUNCS, amf_name="amf-b")
    assert e2ap.decode(e2ap.encode(plain)).amf_name == "amf-b"


def test_an_unknown_node_type_or_id_size_is_an_error_naming_it():
    with pytest.raises(e2ap.E2apError, match="node_type 'wifi'.*gNB, en-gNB, ng-eNB, eNB"):
        e2ap.encode(e2ap.E2SetupRequest(1, b"\x00\xf1\x10", 5, FUNCS, node_type="wifi"))
    with pytest.raises(e2ap.E2apError, match="eNB id of 22 bits"):
        e2ap.encode(e2ap.E2SetupRequest(1, b"\x00\xf1\x10", 5, FUNCS, node_type="eNB"))


def test_an_e2ap_v1_setup_request_is_refused_naming_the_version():
    from pycrate_asn1dir import E2AP

    pdu = E2AP.E2AP_PDU_Descriptions.E2AP_PDU
    node = ("gNB", {"global-gNB-ID": {"plmn-id": b"\x00\xf1\x10", "gnb-id": ("gnb-ID", (5, 22))}})
    pdu.set_val(("initiatingMessage", {"procedureCode": 1, "criticality": "reject", "value": ("E2setupRequest", {
        "protocolIEs": [{"id": 3, "criticality": "reject", "value": ("GlobalE2node-ID", node)},
                        {"id": 10, "criticality": "reject", "value": ("RANfunctions-List", [
                            {"id": 8, "criticality": "ignore", "value": ("RANfunction-Item", {
                                "ranFunctionID": 2, "ranFunctionDefinition": b"kpm", "ranFunctionRevision": 1,
                                "ranFunctionOID": "1.3.6.1.4.1.53148.1.2.2.2"})}])}]})}))
    with pytest.raises(e2ap.E2apError, match="E2AP v1"):
        e2ap.decode(pdu.to_aper())


# one message of every E2AP v3 procedure that ranml does not type, as an E2 node or a RIC sends it
TID = (49, "reject", "TransactionID", 5)
PROCEDURES = [
    e2ap.Procedure("initiatingMessage", "E2connectionUpdate", 11, (TID,)),
    e2ap.Procedure("successfulOutcome", "E2connectionUpdateAcknowledge", 11, (TID,)),
    e2ap.Procedure("unsuccessfulOutcome", "E2connectionUpdateFailure", 11,
                   (TID, (1, "reject", "Cause", ("misc", "unspecified")))),
    e2ap.Procedure("initiatingMessage", "E2nodeConfigurationUpdate", 10, (TID,)),
    e2ap.Procedure("successfulOutcome", "E2nodeConfigurationUpdateAcknowledge", 10, (TID,)),
    e2ap.Procedure("unsuccessfulOutcome", "E2nodeConfigurationUpdateFailure", 10,
                   (TID, (1, "ignore", "Cause", ("misc", "unspecified")))),
    e2ap.Procedure("initiatingMessage", "RICserviceUpdate", 7, (TID, (10, "reject", "RANfunctions-List", [
        {"id": 8, "criticality": "ignore", "value": ("RANfunction-Item", {
            "ranFunctionID": 2, "ranFunctionDefinition": b"kpm", "ranFunctionRevision": 1,
            "ranFunctionOID": "1.3.6.1.4.1.53148.1.2.2.2"})}]))),
    e2ap.Procedure("successfulOutcome", "RICserviceUpdateAcknowledge", 7, (TID,)),
    e2ap.Procedure("initiatingMessage", "RICserviceQuery", 6, (TID,), "ignore"),
    e2ap.Procedure("initiatingMessage", "ResetRequest", 3, (TID, (1, "ignore", "Cause", ("misc", "om-intervention")))),
    e2ap.Procedure("successfulOutcome", "ResetResponse", 3, (TID,)),
    e2ap.Procedure("initiatingMessage", "E2RemovalRequest", 13, (TID,)),
    e2ap.Procedure("successfulOutcome", "E2RemovalResponse", 13, (TID,)),
]


@pytest.mark.parametrize("msg", PROCEDURES, ids=[p.name for p in PROCEDURES])
def test_every_other_procedure_round_trips_with_all_its_ies(msg):
    got = e2ap.decode(e2ap.encode(msg))
    assert got == msg and got.transaction_id == 5 and e2ap.encode(got) == e2ap.encode(msg)
