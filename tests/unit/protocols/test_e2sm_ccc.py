"""E2SM-CCC cell on/off control: JSON round trip, the O-NRCellDU alternative, bad input."""

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranml.protocols.e2sm import CccCodec, CellSwitch, CellSwitchControl, E2smError, NrCgi

CCC = CccCodec()
CELL = NrCgi(bytes.fromhex("00f110"), (1 << 14) | 3)


def test_roundtrip_several_cells():
    control = CellSwitchControl((CellSwitch(CELL, True), CellSwitch(NrCgi(CELL.plmn, 7), False)))
    header, message = CCC.encode_control(control)
    assert CCC.decode_control(header, message) == control
    body = json.loads(message)["controlMessageFormat"]["controlMessageFormat2"]["listOfCellsControlled"][0]
    struct = body["listOfConfigurationStructures"][0]
    assert struct["ranConfigurationStructureName"] == "O-CESManagementFunction"
    assert struct["newValuesOfAttributes"]["ranConfigurationStructure"]["energySavingControl"] == "toBeEnergySaving"


def test_administrative_state_is_accepted():
    header, message = CCC.encode_control(CellSwitchControl((CellSwitch(CELL, True),)))
    doc = json.loads(message)
    struct = doc["controlMessageFormat"]["controlMessageFormat2"]["listOfCellsControlled"][0][
        "listOfConfigurationStructures"][0]
    struct["ranConfigurationStructureName"] = "O-NRCellDU"
    struct["newValuesOfAttributes"] = {"ranConfigurationStructure": {"administrativeState": "UNLOCKED"}}
    assert CCC.decode_control(header, json.dumps(doc).encode()).cells == (CellSwitch(CELL, False),)


def test_errors_name_the_problem():
    header, message = CCC.encode_control(CellSwitchControl((CellSwitch(CELL, True),)))
    with pytest.raises(E2smError, match="not UTF-8 JSON"):
        CCC.decode_control(b"\xff", message)
    with pytest.raises(E2smError, match="style 1 is not supported"):
        CCC.decode_control(header.replace(b'"ricStyleType":2', b'"ricStyleType":1'), message)
    with pytest.raises(E2smError, match="toBeEnergySaving or toBeNotEnergySaving"):
        CCC.decode_control(header, message.replace(b'"toBeEnergySaving"}}', b'"maybe"}}'))
    with pytest.raises(E2smError, match="not supported; use"):
        CCC.decode_control(header, message.replace(b"O-CESManagementFunction", b"O-BWP"))
    with pytest.raises(E2smError, match="at least one cell"):
        CCC.encode_control(CellSwitchControl(()))


def test_ran_function_lists_the_cells():
    cells = (CELL, NrCgi(CELL.plmn, 9))
    assert CCC.decode_ran_function(CCC.encode_ran_function(cells)) == cells


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=3), max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=100), json_values.map(lambda v: json.dumps(v).encode())))
def test_malformed_input_raises_e2sm_error_only(blob):
    header, message = CCC.encode_control(CellSwitchControl((CellSwitch(CELL, True),)))
    for args in ((blob, message), (header, blob)):
        with contextlib.suppress(E2smError):
            CCC.decode_control(*args)
    with contextlib.suppress(E2smError):
        CCC.decode_ran_function(blob)
