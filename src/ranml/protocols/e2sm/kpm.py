"""E2SM-KPM codec with a typed API (APER via asn1tools, compiled lazily and once per version).

Covers report style 1: event trigger format 1 (reporting period), action definition format 1
(measurement names, granularity period, optional NR cell), indication header format 1 (collection
start time and sender fields) and indication message format 1 (measurement records). Version 2
peers send a 4-octet collection start time, version 3 peers 8 octets (NTP format); the codec for
the advertised version is chosen with ``KpmCodec(version=...)``.

Callers never touch asn1tools values; malformed bytes raise :class:`E2smError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ranml.protocols.e2sm import kpm_fast
from ranml.protocols.e2sm._asn import AsnCodec, E2smError, parsing
from ranml.protocols.e2sm.common import NrCgi

__all__ = [
    "KPM_OID",
    "ActionDefinition",
    "E2smError",
    "IndicationHeader",
    "IndicationMessage",
    "KpmCodec",
    "RanFunctionDefinition",
]

_NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
Value = int | float | None


@dataclass(frozen=True)
class ActionDefinition:
    """Action definition format 1: what to measure and how often."""

    measurements: tuple[str, ...]
    granularity_ms: int
    style: int = 1
    cell: NrCgi | None = None


KPM_OID = "1.3.6.1.4.1.53148.1.2.2.2"


@dataclass(frozen=True)
class RanFunctionDefinition:
    """What an E2 node offers for KPM (sent in E2 Setup): report style 1 with its measurements."""

    measurements: tuple[str, ...]
    short_name: str = "ORAN-E2SM-KPM"
    oid: str = KPM_OID
    description: str = "KPM Monitor"
    instance: int | None = None


@dataclass(frozen=True)
class IndicationHeader:
    """Indication header format 1."""

    collect_start: float  # Unix seconds
    sender_name: str | None = None
    sender_type: str | None = None
    vendor_name: str | None = None
    file_format_version: str | None = None


@dataclass(frozen=True)
class IndicationMessage:
    """Indication message format 1: one record per granularity period, values positional."""

    records: tuple[tuple[Value, ...], ...]
    measurements: tuple[str, ...] = ()
    granularity_ms: int | None = None
    incomplete: tuple[bool, ...] = ()


_HEADER_FIELDS = (("fileFormatversion", "file_format_version"), ("senderName", "sender_name"),
                  ("senderType", "sender_type"), ("vendorName", "vendor_name"))


def _info_list(names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"measType": ("measName", m), "labelInfoList": [{"measLabel": {"noLabel": "true"}}]} for m in names]


class KpmCodec(AsnCodec):
    """Encode/decode E2SM-KPM messages for a peer of ``version`` 2 or 3 (cheap; compiles on first use).

    With ``fast`` (the default) the indication header and message go through the hand-written
    aligned-PER path of :mod:`ranml.protocols.e2sm.kpm_fast`, which produces the reference codec's
    bytes and values and hands anything unusual to the reference codec; ``fast=False`` always uses
    the reference (asn1tools).
    """

    def __init__(self, version: int = 3, fast: bool = True) -> None:
        if version not in (2, 3):
            raise E2smError(f"E2SM-KPM version {version} is not supported; use 2 or 3")
        self.version = version
        self.fast = fast

    _filename = "kpm.asn"

    def _replacements(self) -> tuple[tuple[str, str], ...]:
        return (("TIMESTAMP_OCTETS", "8" if self.version == 3 else "4"),)

    # -- event trigger -----------------------------------------------------------------------
    def encode_event_trigger(self, period_ms: int) -> bytes:
        """Event trigger format 1 with a reporting period in milliseconds."""
        return self._encode("E2SM-KPM-EventTriggerDefinition",
                            {"eventDefinition-formats": ("eventDefinition-Format1", {"reportingPeriod": period_ms})})

    @parsing
    def decode_event_trigger(self, data: bytes) -> int:
        """The reporting period (ms) of an event trigger."""
        value = self._decode("E2SM-KPM-EventTriggerDefinition", data)
        _, fmt = value["eventDefinition-formats"]
        return int(fmt["reportingPeriod"])

    # -- action definition ---------------------------------------------------------------------
    def encode_action_definition(self, action: ActionDefinition) -> bytes:
        """Action definition format 1."""
        if not action.measurements:
            raise E2smError("an action definition needs at least one measurement name")
        fmt: dict[str, Any] = {
            "measInfoList": _info_list(action.measurements),
            "granulPeriod": action.granularity_ms,
        }
        if action.cell is not None:
            fmt["cellGlobalID"] = ("nR-CGI", action.cell.to_asn())
        value = {"ric-Style-Type": action.style, "actionDefinition-formats": ("actionDefinition-Format1", fmt)}
        return self._encode("E2SM-KPM-ActionDefinition", value)

    @parsing
    def decode_action_definition(self, data: bytes) -> ActionDefinition:
        """Parse an action definition (format 1 only)."""
        value = self._decode("E2SM-KPM-ActionDefinition", data)
        kind, fmt = value["actionDefinition-formats"]
        if kind != "actionDefinition-Format1":
            raise E2smError(f"action definition {kind} is not supported (format 1 only)")
        names = tuple(str(item["measType"][1]) for item in fmt["measInfoList"])
        cell = None
        if "cellGlobalID" in fmt and fmt["cellGlobalID"][0] == "nR-CGI":
            cell = NrCgi.from_asn(fmt["cellGlobalID"][1])
        return ActionDefinition(names, int(fmt["granulPeriod"]), int(value["ric-Style-Type"]), cell)

    # -- RAN function definition --------------------------------------------------------------
    def encode_ran_function(self, ran: RanFunctionDefinition) -> bytes:
        """RAN function definition: periodic event trigger style 1 and report style 1."""
        name: dict[str, Any] = {"ranFunction-ShortName": ran.short_name, "ranFunction-E2SM-OID": ran.oid,
                                "ranFunction-Description": ran.description}
        if ran.instance is not None:
            name["ranFunction-Instance"] = ran.instance
        value = {
            "ranFunction-Name": name,
            "ric-EventTriggerStyle-List": [{"ric-EventTriggerStyle-Type": 1,
                                            "ric-EventTriggerStyle-Name": "Periodic Report",
                                            "ric-EventTriggerFormat-Type": 1}],
            "ric-ReportStyle-List": [{"ric-ReportStyle-Type": 1, "ric-ReportStyle-Name": "E2 Node Measurement",
                                      "ric-ActionFormat-Type": 1,
                                      "measInfo-Action-List": [{"measName": m} for m in ran.measurements],
                                      "ric-IndicationHeaderFormat-Type": 1, "ric-IndicationMessageFormat-Type": 1}],
        }
        return self._encode("E2SM-KPM-RANfunction-Description", value)

    @parsing
    def decode_ran_function(self, data: bytes) -> RanFunctionDefinition:
        """Parse a RAN function definition (the measurements of report style 1)."""
        value = self._decode("E2SM-KPM-RANfunction-Description", data)
        name = value["ranFunction-Name"]
        measurements: tuple[str, ...] = ()
        for style in value.get("ric-ReportStyle-List", []):
            if style["ric-ReportStyle-Type"] == 1:
                measurements = tuple(str(m["measName"]) for m in style["measInfo-Action-List"])
        return RanFunctionDefinition(measurements, str(name["ranFunction-ShortName"]),
                                     str(name["ranFunction-E2SM-OID"]), str(name["ranFunction-Description"]),
                                     name.get("ranFunction-Instance"))

    # -- indication header -----------------------------------------------------------------------
    def _timestamp(self, unix_s: float) -> bytes:
        ntp = unix_s + _NTP_EPOCH_OFFSET
        seconds = int(ntp) & 0xFFFFFFFF
        if self.version == 2:
            return seconds.to_bytes(4, "big")
        fraction = int((ntp - int(ntp)) * 2**32) & 0xFFFFFFFF
        return seconds.to_bytes(4, "big") + fraction.to_bytes(4, "big")

    def _unix(self, stamp: bytes) -> float:
        seconds = int.from_bytes(stamp[:4], "big")
        fraction = int.from_bytes(stamp[4:8], "big") / 2**32 if len(stamp) == 8 else 0.0
        return seconds + fraction - _NTP_EPOCH_OFFSET

    def encode_indication_header(self, header: IndicationHeader) -> bytes:
        """Indication header format 1."""
        fmt: dict[str, Any] = {"colletStartTime": self._timestamp(header.collect_start)}
        for key, attr in _HEADER_FIELDS:
            if getattr(header, attr) is not None:
                fmt[key] = getattr(header, attr)
        if self.fast:
            try:
                strings = {k: v for k, v in fmt.items() if k != "colletStartTime"}
                kpm_fast.check_strings(strings.values())
                return kpm_fast.encode_header(fmt["colletStartTime"], strings)
            except kpm_fast.Unsupported:
                pass
        return self._encode("E2SM-KPM-IndicationHeader",
                            {"indicationHeader-formats": ("indicationHeader-Format1", fmt)})

    @parsing
    def decode_indication_header(self, data: bytes) -> IndicationHeader:
        """Parse an indication header."""
        if self.fast:
            try:
                stamp, fields = kpm_fast.decode_header(bytes(data), 8 if self.version == 3 else 4)
                kpm_fast.check_strings(fields.values())
                return IndicationHeader(self._unix(stamp), fields.get("senderName"), fields.get("senderType"),
                                        fields.get("vendorName"), fields.get("fileFormatversion"))
            except (kpm_fast.Unsupported, UnicodeDecodeError):
                pass
        value = self._decode("E2SM-KPM-IndicationHeader", data)
        _, fmt = value["indicationHeader-formats"]
        return IndicationHeader(self._unix(bytes(fmt["colletStartTime"])), fmt.get("senderName"),
                                fmt.get("senderType"), fmt.get("vendorName"), fmt.get("fileFormatversion"))

    # -- indication message ----------------------------------------------------------------------
    @staticmethod
    def _record_item(v: Value) -> tuple[str, Any]:
        if v is None:
            return ("noValue", None)
        if isinstance(v, int) and 0 <= v <= 4294967295:
            return ("integer", v)
        return ("real", float(v))

    def encode_indication_message(self, message: IndicationMessage) -> bytes:
        """Indication message format 1."""
        if not message.records or any(not r for r in message.records):
            raise E2smError("an indication message needs at least one record with at least one value")
        if self.fast:
            try:
                kpm_fast.check_strings(message.measurements)
                return kpm_fast.encode_message(message.records, message.measurements, message.granularity_ms,
                                               message.incomplete)
            except kpm_fast.Unsupported:
                pass
        data = []
        for i, record in enumerate(message.records):
            item: dict[str, Any] = {"measRecord": [self._record_item(v) for v in record]}
            if i < len(message.incomplete) and message.incomplete[i]:
                item["incompleteFlag"] = "true"
            data.append(item)
        fmt: dict[str, Any] = {"measData": data}
        if message.measurements:
            fmt["measInfoList"] = _info_list(message.measurements)
        if message.granularity_ms is not None:
            fmt["granulPeriod"] = message.granularity_ms
        return self._encode("E2SM-KPM-IndicationMessage",
                            {"indicationMessage-formats": ("indicationMessage-Format1", fmt)})

    @parsing
    def decode_indication_message(self, data: bytes) -> IndicationMessage:
        """Parse an indication message (format 1 only)."""
        if self.fast:
            try:
                records, names, granularity, flags = kpm_fast.decode_message(bytes(data))
                kpm_fast.check_strings(names)
                return IndicationMessage(records, names, granularity, flags)
            except (kpm_fast.Unsupported, UnicodeDecodeError):
                pass
        value = self._decode("E2SM-KPM-IndicationMessage", data)
        kind, fmt = value["indicationMessage-formats"]
        if kind != "indicationMessage-Format1":
            raise E2smError(f"indication message {kind} is not supported (format 1 only)")
        records = tuple(tuple(None if k == "noValue" else v for k, v in item["measRecord"]) for item in fmt["measData"])
        incomplete = tuple("incompleteFlag" in item for item in fmt["measData"])
        names = tuple(str(i["measType"][1]) for i in fmt.get("measInfoList", []))
        return IndicationMessage(records, names, fmt.get("granulPeriod"), incomplete)
