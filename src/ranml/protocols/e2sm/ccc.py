"""E2SM-CCC cell on/off control (JSON-encoded, as E2SM-CCC specifies).

ranml uses E2SM-CCC rather than E2SM-RC for switching cells on and off: E2SM-RC has no cell-level
switch action (its styles act on UEs, bearers and slices), while E2SM-CCC's control style 2
("cell configuration") writes the standard O-RAN configuration attributes of a cell, and the
energy-saving attribute ``energySavingControl`` of ``O-CESManagementFunction`` is exactly the
switch an energy-saving xApp needs. CCC messages are JSON, so no ASN.1 is involved.

Shape written (keys follow the element names of the CCC information elements)::

    header:  {"controlHeaderFormat": {"controlHeaderFormat1": {"ricStyleType": 2}}}
    message: {"controlMessageFormat": {"controlMessageFormat2": {"listOfCellsControlled": [
                 {"cellGlobalId": {"nRCGI": {"pLMNIdentity": "00f110", "nRCellIdentity": "000000001"}},
                  "listOfConfigurationStructures": [
                     {"ranConfigurationStructureName": "O-CESManagementFunction",
                      "oldValuesOfAttributes": {"ranConfigurationStructure": {"energySavingControl": "..."}},
                      "newValuesOfAttributes": {"ranConfigurationStructure":
                                                   {"energySavingControl": "toBeEnergySaving"}}}]}]}}}

The decoder also accepts ``O-NRCellDU`` with ``administrativeState`` ``LOCKED`` (off) /
``UNLOCKED`` (on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ranml.protocols.e2sm._asn import E2smError
from ranml.protocols.e2sm.common import NrCgi

__all__ = ["CCC_OID", "CELL_CONFIG_STYLE", "CccCodec", "CellSwitch", "CellSwitchControl"]

CCC_OID = "1.3.6.1.4.1.53148.1.1.2.4"
CELL_CONFIG_STYLE = 2
_ES_STRUCT, _ES_ATTR = "O-CESManagementFunction", "energySavingControl"
_DU_STRUCT, _DU_ATTR = "O-NRCellDU", "administrativeState"


@dataclass(frozen=True)
class CellSwitch:
    """Switch one cell off (``sleep=True``: enter energy saving) or back on."""

    cell: NrCgi
    sleep: bool


@dataclass(frozen=True)
class CellSwitchControl:
    """One CCC control request: a list of cell switches."""

    cells: tuple[CellSwitch, ...]


def _cgi_json(cell: NrCgi) -> dict[str, Any]:
    return {"nRCGI": {"pLMNIdentity": cell.plmn.hex(), "nRCellIdentity": f"{cell.cell_id:09x}"}}


def _cgi_parse(value: Any) -> NrCgi:
    nr = value["nRCGI"]
    return NrCgi(bytes.fromhex(nr["pLMNIdentity"]), int(nr["nRCellIdentity"], 16))


def _es_value(sleep: bool) -> str:
    return "toBeEnergySaving" if sleep else "toBeNotEnergySaving"


class CccCodec:
    """Encode/decode the E2SM-CCC cell on/off control and the RAN function definition."""

    def encode_control(self, control: CellSwitchControl) -> tuple[bytes, bytes]:
        """Header and message bytes (UTF-8 JSON)."""
        if not control.cells:
            raise E2smError("a CCC control needs at least one cell")
        header = {"controlHeaderFormat": {"controlHeaderFormat1": {"ricStyleType": CELL_CONFIG_STYLE}}}
        cells = [{"cellGlobalId": _cgi_json(c.cell), "listOfConfigurationStructures": [{
            "ranConfigurationStructureName": _ES_STRUCT,
            "oldValuesOfAttributes": {"ranConfigurationStructure": {_ES_ATTR: _es_value(not c.sleep)}},
            "newValuesOfAttributes": {"ranConfigurationStructure": {_ES_ATTR: _es_value(c.sleep)}}}]}
            for c in control.cells]
        message = {"controlMessageFormat": {"controlMessageFormat2": {"listOfCellsControlled": cells}}}
        return (json.dumps(header, separators=(",", ":")).encode(),
                json.dumps(message, separators=(",", ":")).encode())

    def decode_control(self, header: bytes, message: bytes) -> CellSwitchControl:
        """Parse a cell on/off control; raises :class:`E2smError` naming what is wrong."""
        head = self._json(header, "control header")
        msg = self._json(message, "control message")
        try:
            style = head["controlHeaderFormat"]["controlHeaderFormat1"]["ricStyleType"]
            if style != CELL_CONFIG_STYLE:
                raise E2smError(f"CCC control style {style} is not supported (style {CELL_CONFIG_STYLE} only)")
            switches = []
            for cell in msg["controlMessageFormat"]["controlMessageFormat2"]["listOfCellsControlled"]:
                cgi = _cgi_parse(cell["cellGlobalId"])
                for struct in cell["listOfConfigurationStructures"]:
                    attrs = struct["newValuesOfAttributes"]["ranConfigurationStructure"]
                    name = struct["ranConfigurationStructureName"]
                    if name == _ES_STRUCT and _ES_ATTR in attrs:
                        value = attrs[_ES_ATTR]
                        if value not in ("toBeEnergySaving", "toBeNotEnergySaving"):
                            raise E2smError(f"{_ES_ATTR} must be toBeEnergySaving or toBeNotEnergySaving, "
                                            f"not {value!r}")
                        switches.append(CellSwitch(cgi, value == "toBeEnergySaving"))
                    elif name == _DU_STRUCT and _DU_ATTR in attrs:
                        value = attrs[_DU_ATTR]
                        if value not in ("LOCKED", "UNLOCKED"):
                            raise E2smError(f"{_DU_ATTR} must be LOCKED or UNLOCKED, not {value!r}")
                        switches.append(CellSwitch(cgi, value == "LOCKED"))
                    else:
                        raise E2smError(f"CCC configuration structure {name!r} with {sorted(attrs)} is not supported; "
                                        f"use {_ES_STRUCT}.{_ES_ATTR} or {_DU_STRUCT}.{_DU_ATTR}")
        except E2smError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise E2smError(f"unexpected CCC control content ({type(exc).__name__}: {exc})") from None
        if not switches:
            raise E2smError("CCC control lists no cell")
        return CellSwitchControl(tuple(switches))

    def encode_ran_function(self, cells: tuple[NrCgi, ...],
                            description: str = "Cell Configuration and Control") -> bytes:
        """RAN function definition (JSON): the cells and the structures that can be controlled."""
        value = {"ranFunctionName": {"ranFunctionShortName": "ORAN-E2SM-CCC", "ranFunctionServiceModelOID": CCC_OID,
                                     "ranFunctionDescription": description},
                 "listOfCells": [{"cellGlobalId": _cgi_json(c),
                                  "listOfSupportedCellLevelRANConfigurationStructures": [
                                      {"ranConfigurationStructureName": _ES_STRUCT,
                                       "listOfSupportedAttributes": [{"attributeName": _ES_ATTR}]},
                                      {"ranConfigurationStructureName": _DU_STRUCT,
                                       "listOfSupportedAttributes": [{"attributeName": _DU_ATTR}]}]}
                                 for c in cells]}
        return json.dumps(value, separators=(",", ":")).encode()

    def decode_ran_function(self, data: bytes) -> tuple[NrCgi, ...]:
        """The cells a CCC RAN function definition offers."""
        value = self._json(data, "RAN function definition")
        try:
            return tuple(_cgi_parse(c["cellGlobalId"]) for c in value.get("listOfCells", []))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise E2smError(f"unexpected CCC RAN function content ({type(exc).__name__}: {exc})") from None

    @staticmethod
    def _json(data: bytes, what: str) -> Any:
        try:
            value = json.loads(bytes(data).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise E2smError(f"CCC {what} is not UTF-8 JSON: {exc}") from None
        if not isinstance(value, dict):
            raise E2smError(f"CCC {what} must be a JSON object")
        return value
