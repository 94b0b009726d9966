"""The KPM fast path is byte-for-byte the reference codec (asn1tools) on generated messages."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")

from ranml.protocols.e2sm import E2smError, IndicationHeader, IndicationMessage, KpmCodec, kpm_fast

REF = {v: KpmCodec(v, fast=False) for v in (2, 3)}
FAST = {v: KpmCodec(v) for v in (2, 3)}
PRINTABLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 '()+,-./:=?"

values = st.one_of(st.none(), st.integers(0, 2**32 - 1),
                   st.floats(allow_nan=False, allow_infinity=True), st.integers(2**32, 2**40).map(float))
messages = st.builds(
    lambda recs, names, gran, flags: IndicationMessage(tuple(map(tuple, recs)), tuple(names), gran,
                                                        tuple(flags[:len(recs)])),
    st.lists(st.lists(values, min_size=1, max_size=12), min_size=1, max_size=6),
    st.lists(st.text(PRINTABLE, min_size=1, max_size=150), max_size=6),
    st.one_of(st.none(), st.integers(1, 2**32 - 1)),
    st.lists(st.booleans(), max_size=6))
headers = st.builds(IndicationHeader, st.floats(0, 2**31), *(st.one_of(st.none(), st.text(PRINTABLE, max_size=n))
                                                             for n in (400, 8, 32, 15)))


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@settings(max_examples=400, deadline=None)
@given(messages)
def test_message_bytes_and_values_match_the_reference(msg):
    ref = REF[3].encode_indication_message(msg)
    assert kpm_fast.encode_message(msg.records, msg.measurements, msg.granularity_ms, msg.incomplete) == ref
    expected = REF[3].decode_indication_message(ref)
    records, names, gran, flags = kpm_fast.decode_message(ref)
    assert (names, gran, flags) == (expected.measurements, expected.granularity_ms, expected.incomplete)
    assert all(same(x, y) for r, e in zip(records, expected.records, strict=True) for x, y in zip(r, e, strict=True))


@settings(max_examples=300, deadline=None)
@given(headers, st.sampled_from([2, 3]))
def test_header_bytes_and_values_match_the_reference(header, version):
    ref = REF[version].encode_indication_header(header)
    assert FAST[version].encode_indication_header(header) == ref
    stamp, fields = kpm_fast.decode_header(ref, 8 if version == 3 else 4)  # the fast path itself, no fallback
    assert FAST[version].decode_indication_header(ref) == REF[version].decode_indication_header(ref)
    assert fields.get("senderName") == header.sender_name and len(stamp) == (8 if version == 3 else 4)


def outcome(fn, data):
    try:
        return ("ok", fn(data))
    except E2smError:
        return ("error", None)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=80),
                 messages.map(REF[3].encode_indication_message).flatmap(
                     lambda b: st.tuples(st.integers(0, len(b) - 1), st.integers(0, 255)).map(
                         lambda p: b[:p[0]] + bytes([p[1]]) + b[p[0] + 1:]))))
def test_bad_or_mutated_bytes_behave_like_the_reference(blob):
    for name in ("decode_indication_message", "decode_indication_header"):
        fast = outcome(getattr(FAST[3], name), blob)
        ref = outcome(getattr(REF[3], name), blob)
        assert fast[0] == ref[0]
        if fast[0] == "ok" and name == "decode_indication_message":
            assert all(same(x, y) for r, e in zip(fast[1].records, ref[1].records, strict=True)
                       for x, y in zip(r, e, strict=True))
            assert (fast[1].measurements, fast[1].granularity_ms) == (ref[1].measurements, ref[1].granularity_ms)
        elif fast[0] == "ok":
            assert fast[1] == ref[1]


def test_unsupported_shapes_fall_back_to_the_reference():
    msg = IndicationMessage(((1,),), ("has_underscore",))  # not PrintableString: the reference refuses it
    with pytest.raises(E2smError, match="cannot encode"):
        FAST[3].encode_indication_message(msg)
