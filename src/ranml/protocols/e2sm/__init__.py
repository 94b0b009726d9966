"""E2 service model codecs: E2SM-KPM (measurements), E2SM-RC (handover), E2SM-CCC (cell on/off)."""

from ranml.protocols.e2sm._asn import E2smError
from ranml.protocols.e2sm.ccc import CCC_OID, CccCodec, CellSwitch, CellSwitchControl
from ranml.protocols.e2sm.common import NrCgi, enumerated_ue_cell, enumerated_ue_id, plmn_from_text, plmn_to_text
from ranml.protocols.e2sm.kpm import (
    KPM_OID,
    ActionDefinition,
    IndicationHeader,
    IndicationMessage,
    KpmCodec,
    RanFunctionDefinition,
    detect_version,
)
from ranml.protocols.e2sm.rc import (
    RC_OID,
    ControlHeader,
    GnbUeId,
    Guami,
    HandoverControl,
    RanParameter,
    RcCodec,
    RcRanFunctionDefinition,
)

__all__ = [
    "CCC_OID",
    "KPM_OID",
    "RC_OID",
    "ActionDefinition",
    "CccCodec",
    "CellSwitch",
    "CellSwitchControl",
    "ControlHeader",
    "E2smError",
    "GnbUeId",
    "Guami",
    "HandoverControl",
    "IndicationHeader",
    "IndicationMessage",
    "KpmCodec",
    "NrCgi",
    "RanFunctionDefinition",
    "RanParameter",
    "RcCodec",
    "RcRanFunctionDefinition",
    "detect_version",
    "enumerated_ue_cell",
    "enumerated_ue_id",
    "plmn_from_text",
    "plmn_to_text",
]
