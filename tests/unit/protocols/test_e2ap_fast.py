"""The RIC Indication fast path is byte-for-byte pycrate's E2AP codec on generated messages.

(pycrate 0.8.1 cannot decode an octet string IE of 16 KiB or more, a fragmented length, so the
generated headers stay below that.)
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pycrate_asn1dir", reason="the E2AP codec needs pycrate: pip install 'ranml[ric]'")

from ranml.protocols import e2ap, e2ap_fast


def _indications(header, message):
    return st.builds(e2ap.Indication, st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 4095),
                     st.integers(0, 255), header, message, st.none() | st.integers(0, 65535),
                     st.sampled_from(["report", "insert"]))


# small PDUs, and PDUs whose octet strings need 2-byte lengths but stay below 16 KiB in all
indications = _indications(st.binary(max_size=300), st.binary(max_size=2000)) | _indications(
    st.integers(16000, 16200).map(lambda n: b"\x5a" * n), st.binary(max_size=100))


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=200, deadline=None)
@given(indications)
def test_fast_encode_and_decode_match_pycrate(ind):
    ref = e2ap.encode_reference(ind)
    assert e2ap.encode(ind) == ref
    assert e2ap.decode(ref) == e2ap.decode_reference(ref) == ind
    if len(ind.header) < 16000:  # a PDU above 16 K has a fragmented length: pycrate's job
        assert e2ap_fast.decode_indication(ref)[-2:] == (ind.header, ind.message)


def outcome(fn, data):
    try:
        return fn(data)
    except e2ap.E2apError:
        return "error"


@settings(max_examples=500, deadline=None)
@given(indications.filter(lambda i: len(i.header) < 300).map(e2ap.encode_reference).flatmap(
    lambda b: st.tuples(st.integers(0, len(b) - 1), st.integers(0, 255), st.booleans()).map(
        lambda p: (b[:p[0]] + bytes([p[1]]) + b[p[0] + 1:]) if p[2] else b[:p[0]])))
def test_mutated_bytes_behave_like_pycrate(blob):
    assert outcome(e2ap.decode, blob) == outcome(e2ap.decode_reference, blob)


def test_other_messages_still_go_through_pycrate():
    req = e2ap.SubscriptionDeleteRequest(1, 2, 3)
    assert e2ap.encode(req) == e2ap.encode_reference(req) and e2ap.decode(e2ap.encode(req)) == req
