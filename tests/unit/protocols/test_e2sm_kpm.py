"""E2SM-KPM codec: known bytes, round trips, v2/v3 timestamps, malformed input."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")

from ranml.protocols.e2sm import ActionDefinition, E2smError, IndicationHeader, IndicationMessage, KpmCodec, NrCgi

KPM = KpmCodec(3)


def test_event_trigger_for_ten_seconds_is_the_known_bytes():
    assert KPM.encode_event_trigger(10_000) == bytes.fromhex("08270f")
    assert KPM.decode_event_trigger(bytes.fromhex("08270f")) == 10_000
    assert KPM.decode_event_trigger(KPM.encode_event_trigger(1000)) == 1000


def test_action_definition_roundtrip_with_cell():
    action = ActionDefinition(("RRU.PrbUsedDl", "RRU.PrbUsedUl", "DRB.UEThpDl", "RRC.ConnMean"), 1000, 1,
                              NrCgi(bytes.fromhex("00f110"), 0x123456789))
    assert KPM.decode_action_definition(KPM.encode_action_definition(action)) == action


def test_indication_header_v3_is_8_octets_and_v2_is_4():
    now = 1_795_000_000.25
    h3 = KPM.encode_indication_header(IndicationHeader(now, sender_name="e2sim", vendor_name="ranml"))
    back = KPM.decode_indication_header(h3)
    assert abs(back.collect_start - now) < 1e-6 and back.sender_name == "e2sim" and back.vendor_name == "ranml"
    v2 = KpmCodec(2)
    h2 = v2.encode_indication_header(IndicationHeader(now))
    assert len(h2) == len(KPM.encode_indication_header(IndicationHeader(now))) - 4
    assert v2.decode_indication_header(h2).collect_start == int(now)


def test_indication_message_roundtrip_with_missing_values():
    msg = IndicationMessage(((42, 17.5, None), (43, 18.0, 7)), ("RRU.PrbUsedDl", "DRB.UEThpDl", "RRC.ConnMean"),
                            1000, (False, True))
    back = KPM.decode_indication_message(KPM.encode_indication_message(msg))
    assert back == msg


def test_bad_values_and_versions():
    with pytest.raises(E2smError, match="cannot encode"):
        KPM.encode_event_trigger(0)
    with pytest.raises(E2smError, match="at least one measurement"):
        KPM.encode_action_definition(ActionDefinition((), 1000))
    with pytest.raises(E2smError, match="version 4"):
        KpmCodec(4)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_malformed_bytes_raise_e2sm_error_only(blob):
    for decode in (KPM.decode_event_trigger, KPM.decode_action_definition, KPM.decode_indication_header,
                   KPM.decode_indication_message):
        with contextlib.suppress(E2smError):
            decode(blob)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.one_of(st.integers(0, 2**32 - 1), st.none(),
                                   st.floats(allow_nan=False, allow_infinity=False, width=32)), min_size=1, max_size=8),
                min_size=1, max_size=5))
def test_message_roundtrip_property(records):
    msg = IndicationMessage(tuple(tuple(r) for r in records))
    back = KPM.decode_indication_message(KPM.encode_indication_message(msg))
    assert len(back.records) == len(records)
    for a, b in zip(back.records, msg.records, strict=True):
        for x, y in zip(a, b, strict=True):
            assert (x is None and y is None) or x == pytest.approx(y)


def test_ran_function_definition_roundtrip():
    from ranml.protocols.e2sm import RanFunctionDefinition

    ran = RanFunctionDefinition(("RRU.PrbUsedDl", "RRU.PrbUsedUl", "DRB.UEThpDl", "RRC.ConnMean"), instance=1)
    data = KPM.encode_ran_function(ran)
    assert KPM.decode_ran_function(data) == ran
    with pytest.raises(E2smError):
        KPM.decode_ran_function(data[:5])
