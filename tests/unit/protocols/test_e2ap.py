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
