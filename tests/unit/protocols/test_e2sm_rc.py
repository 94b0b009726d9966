"""E2SM-RC codec: handover command, parameter trees, RAN function definition, malformed input."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("asn1tools", reason="the E2SM codecs need asn1tools: pip install 'ranml[ric]'")

from ranml.protocols.e2sm import (
    ControlHeader,
    E2smError,
    GnbUeId,
    Guami,
    HandoverControl,
    NrCgi,
    RanParameter,
    RcCodec,
    RcRanFunctionDefinition,
    plmn_from_text,
    plmn_to_text,
)

RC = RcCodec()
PLMN = plmn_from_text("00101")


def test_plmn_bcd_both_mnc_lengths():
    assert bytes.fromhex("00f110") == PLMN
    assert plmn_from_text("310410") == bytes.fromhex("130014")
    assert plmn_to_text(plmn_from_text("310410")) == "310410" and plmn_to_text(PLMN) == "00101"
    with pytest.raises(E2smError, match="MCC"):
        plmn_from_text("12a45")


def test_nr_cgi_bounds_are_checked():
    with pytest.raises(E2smError, match="36 bits"):
        NrCgi(PLMN, 2**36)
    with pytest.raises(E2smError, match="3 octets"):
        NrCgi(b"\x00", 1)


def test_handover_roundtrip_and_tree_shape():
    ho = HandoverControl(GnbUeId(2_000_003, Guami(PLMN, region=2, set_id=1000, pointer=63), (17, 18)),
                         NrCgi(PLMN, (5 << 14) | 2))
    header, message = RC.encode_handover(ho)
    assert RC.decode_handover(header, message) == ho
    head = RC.decode_control_header(header)
    assert (head.style, head.action) == (3, 1)
    (top,) = RC.decode_control_message(message)
    element = top.child(2).child(3).child(4)  # Target Primary Cell ID -> CHOICE Target Cell -> NR Cell -> NR CGI
    assert top.id == 1 and isinstance(element.value, bytes)


def test_decode_handover_refuses_other_styles_and_trees():
    ue = GnbUeId(1, Guami(PLMN))
    header = RC.encode_control_header(ControlHeader(ue, 2, 6))
    with pytest.raises(E2smError, match="not a handover"):
        RC.decode_handover(header, RC.encode_control_message(()))
    header = RC.encode_control_header(ControlHeader(ue, 3, 1))
    with pytest.raises(E2smError, match="lacks RAN parameter 1"):
        RC.decode_handover(header, RC.encode_control_message((RanParameter(9, 5),)))
    with pytest.raises(E2smError, match="no child 2"):
        RC.decode_handover(header, RC.encode_control_message((RanParameter(1, children=(RanParameter(7, 1),)),)))


values = st.one_of(st.booleans(), st.integers(-2**40, 2**40), st.binary(max_size=8),
                   st.text(alphabet="abcXYZ019 .-", min_size=1, max_size=10))


def trees(depth: int = 2):
    leaf = st.builds(RanParameter, st.integers(1, 2**32 - 1), values, key=st.booleans())
    if depth == 0:
        return leaf
    sub = st.lists(trees(depth - 1), min_size=1, max_size=3).map(tuple)
    return st.one_of(leaf,
                     st.builds(lambda i, c: RanParameter(i, children=c), st.integers(1, 1000), sub),
                     st.builds(lambda i, items: RanParameter(i, items=tuple(items)), st.integers(1, 1000),
                               st.lists(sub, min_size=1, max_size=2)))


@settings(max_examples=150, deadline=None)
@given(st.lists(trees(), max_size=4).map(tuple))
def test_parameter_tree_roundtrip_property(params):
    assert RC.decode_control_message(RC.encode_control_message(params)) == params


def test_ran_function_definition_roundtrip():
    ran = RcRanFunctionDefinition(instance=2)
    back = RC.decode_ran_function(RC.encode_ran_function(ran))
    assert back == ran and back.supports(3, 1) and not back.supports(2, 6)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_malformed_bytes_raise_e2sm_error_only(blob):
    for decode in (RC.decode_control_header, RC.decode_control_message, RC.decode_ran_function):
        with contextlib.suppress(E2smError):
            decode(blob)
    with contextlib.suppress(E2smError):
        RC.decode_handover(blob, blob)
