"""E2SM-KPM codec with a typed API (APER via asn1tools, compiled lazily and once per version).

Event trigger format 1 (reporting period); action definition formats 1-5 (measurements by name
or id, granularity period, optional NR cell; format 2 for one UE, 3 with matching conditions, 4
for the UEs matching conditions, 5 for a UE list); indication header format 1 (collection start
time and sender fields, size-extended strings included); indication message formats 1-3
(measurement records; per condition and UE; per UE). Version 2 peers send a 4-octet collection
start time, a matching condition as a CHOICE and mandatory test values; version 3 peers 8 octets
(NTP format) and the v3 structures. Both publish under one OID: the codec for the version a node
runs is chosen with ``KpmCodec(version=...)``, or from the RAN function definition the node sent at
E2 Setup with :meth:`KpmCodec.for_ran_function`.

Decoded action definitions and indication messages keep their ASN.1 value (``raw``, outside
equality): unchanged, they re-encode to the bytes they came from, labels and conditions included.
Conditions and UE identities are ASN.1 values (plain dicts and tuples). Callers never touch
asn1tools objects; malformed bytes raise :class:`E2smError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, cast

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
    "detect_version",
]

_NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
Value = int | float | None


@dataclass(frozen=True)
class ActionDefinition:
    """An action definition: what to measure, how often, for which cell, UEs or conditions.

    ``measurements`` are names (``str``) or measurement type ids (``int``). ``format`` 1..5:
    2 adds ``ue`` (a UEID value), 3 puts ``conditions`` (one matching-condition list per
    measurement; default: no label), 4 has ``conditions`` (the UE matching conditions), 5 has
    ``ue`` (a tuple of UEID values). ``cell`` is the NR cell, when one was given.
    """

    measurements: tuple[str | int, ...]
    granularity_ms: int
    style: int = 1
    cell: NrCgi | None = None
    format: int = 1
    ue: Any = None
    conditions: Any = None
    raw: Any = field(default=None, compare=False, repr=False)


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
    """An indication message: one record per granularity period, values positional.

    Format 2 adds ``conditions`` (per measurement: its matching conditions and matched UE ids,
    ASN.1 values); format 3 carries no records of its own but ``ue_reports``: ``(UEID value,
    format 1 message)`` per UE.
    """

    records: tuple[tuple[Value, ...], ...]
    measurements: tuple[str | int, ...] = ()
    granularity_ms: int | None = None
    incomplete: tuple[bool, ...] = ()
    format: int = 1
    conditions: Any = None
    ue_reports: tuple[tuple[Any, IndicationMessage], ...] = ()
    raw: Any = field(default=None, compare=False, repr=False)


_HEADER_FIELDS = (("fileFormatversion", "file_format_version"), ("senderName", "sender_name"),
                  ("senderType", "sender_type"), ("vendorName", "vendor_name"))


def _meas_type(m: str | int) -> tuple[str, Any]:
    return ("measID", m) if isinstance(m, int) else ("measName", m)


def _meas_from(choice: tuple[str, Any]) -> str | int:
    kind, value = choice
    return int(value) if kind == "measID" else str(value)


def _info_list(names: tuple[str | int, ...]) -> list[dict[str, Any]]:
    return [{"measType": _meas_type(m), "labelInfoList": [{"measLabel": {"noLabel": "true"}}]} for m in names]


def _check_records(message: IndicationMessage) -> None:
    if not message.records or any(not r for r in message.records):
        raise E2smError("an indication message needs at least one record with at least one value")


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
        if self.version == 3:
            return (("TIMESTAMP_OCTETS", "8"), ("TESTCOND_OPTIONAL", "OPTIONAL"),
                    ("MATCHING_COND_ITEM", "SEQUENCE { matchingCondChoice MatchingCondChoice, "
                                           "logicalOR ENUMERATED { true, ... } OPTIONAL, ... }"))
        return (("TIMESTAMP_OCTETS", "4"), ("TESTCOND_OPTIONAL", ""), ("MATCHING_COND_ITEM", "MatchingCondChoice"))

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
        """Action definition of ``action.format`` (1..5); a decoded, unchanged one gives its own bytes."""
        if action.raw is not None and self._action_from(action.raw) == action:
            return self._encode("E2SM-KPM-ActionDefinition", action.raw)
        if not action.measurements:
            raise E2smError("an action definition needs at least one measurement name")
        fmt1: dict[str, Any] = {"measInfoList": _info_list(action.measurements), "granulPeriod": action.granularity_ms}
        if action.cell is not None:
            fmt1["cellGlobalID"] = ("nR-CGI", action.cell.to_asn())
        fmt: dict[str, Any]
        if action.format == 1:
            fmt = fmt1
        elif action.format == 2:
            if action.ue is None:
                raise E2smError("action definition format 2 needs ue (a UEID value)")
            fmt = {"ueID": action.ue, "subscriptInfo": fmt1}
        elif action.format == 3:
            conditions = action.conditions or [[self._no_label()] for _ in action.measurements]
            if len(conditions) != len(action.measurements):
                raise E2smError(f"action definition format 3: {len(conditions)} condition lists for "
                                f"{len(action.measurements)} measurements")
            fmt = {"measCondList": [{"measType": _meas_type(m), "matchingCond": list(c)}
                                    for m, c in zip(action.measurements, conditions, strict=True)],
                   "granulPeriod": action.granularity_ms}
            if action.cell is not None:
                fmt["cellGlobalID"] = ("nR-CGI", action.cell.to_asn())
        elif action.format == 4:
            if not action.conditions:
                raise E2smError("action definition format 4 needs conditions (the UE matching conditions)")
            fmt = {"matchingUeCondList": list(action.conditions), "subscriptionInfo": fmt1}
        elif action.format == 5:
            if not action.ue or len(action.ue) < 2:
                raise E2smError("action definition format 5 needs ue: at least two UEID values")
            fmt = {"matchingUEidList": [{"ueID": u} for u in action.ue], "subscriptionInfo": fmt1}
        else:
            raise E2smError(f"action definition format {action.format}: E2SM-KPM defines formats 1 to 5")
        value = {"ric-Style-Type": action.style,
                 "actionDefinition-formats": (f"actionDefinition-Format{action.format}", fmt)}
        return self._encode("E2SM-KPM-ActionDefinition", value)

    def _no_label(self) -> Any:
        return {"matchingCondChoice": ("measLabel", {"noLabel": "true"})} if self.version == 3 \
            else ("measLabel", {"noLabel": "true"})

    @staticmethod
    def _format1_fields(fmt: dict[str, Any]) -> tuple[tuple[str | int, ...], int, NrCgi | None]:
        names = tuple(_meas_from(item["measType"]) for item in fmt["measInfoList"])
        cell = None
        if "cellGlobalID" in fmt and fmt["cellGlobalID"][0] == "nR-CGI":
            cell = NrCgi.from_asn(fmt["cellGlobalID"][1])
        return names, int(fmt["granulPeriod"]), cell

    def _action_from(self, value: dict[str, Any]) -> ActionDefinition:
        kind, fmt = value["actionDefinition-formats"]
        style = int(value["ric-Style-Type"])
        number = int(kind[-1])
        if number == 1:
            names, granularity, cell = self._format1_fields(fmt)
            return ActionDefinition(names, granularity, style, cell)
        if number == 3:
            names = tuple(_meas_from(item["measType"]) for item in fmt["measCondList"])
            conditions = tuple(tuple(item["matchingCond"]) for item in fmt["measCondList"])
            cell = None
            if "cellGlobalID" in fmt and fmt["cellGlobalID"][0] == "nR-CGI":
                cell = NrCgi.from_asn(fmt["cellGlobalID"][1])
            default = tuple((self._no_label(),) for _ in names)
            return ActionDefinition(names, int(fmt["granulPeriod"]), style, cell, 3,
                                    conditions=None if conditions == default else conditions)
        info = fmt["subscriptInfo"] if number == 2 else fmt["subscriptionInfo"]
        names, granularity, cell = self._format1_fields(info)
        if number == 2:
            return ActionDefinition(names, granularity, style, cell, 2, ue=fmt["ueID"])
        if number == 4:
            return ActionDefinition(names, granularity, style, cell, 4, conditions=tuple(fmt["matchingUeCondList"]))
        return ActionDefinition(names, granularity, style, cell, 5,
                                ue=tuple(item["ueID"] for item in fmt["matchingUEidList"]))

    @parsing
    def decode_action_definition(self, data: bytes) -> ActionDefinition:
        """Parse an action definition of any format (1..5)."""
        value = self._decode("E2SM-KPM-ActionDefinition", data)
        return replace(self._action_from(value), raw=value)

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

    def _format1_value(self, message: IndicationMessage) -> dict[str, Any]:
        _check_records(message)
        fmt: dict[str, Any] = {"measData": self._meas_data(message)}
        if message.measurements:
            fmt["measInfoList"] = _info_list(message.measurements)
        if message.granularity_ms is not None:
            fmt["granulPeriod"] = message.granularity_ms
        return fmt

    def _meas_data(self, message: IndicationMessage) -> list[dict[str, Any]]:
        data = []
        for i, record in enumerate(message.records):
            item: dict[str, Any] = {"measRecord": [self._record_item(v) for v in record]}
            if i < len(message.incomplete) and message.incomplete[i]:
                item["incompleteFlag"] = "true"
            data.append(item)
        return data

    def encode_indication_message(self, message: IndicationMessage) -> bytes:
        """Indication message of ``message.format`` (1..3); a decoded, unchanged one gives its own bytes."""
        if message.raw is not None and self._message_from(message.raw) == message:
            return self._encode("E2SM-KPM-IndicationMessage", message.raw)
        fmt: dict[str, Any]
        if message.format == 1:
            _check_records(message)
            names = message.measurements
            if self.fast and all(isinstance(m, str) for m in names):  # the fast path writes names only
                try:
                    kpm_fast.check_strings(names)
                    return kpm_fast.encode_message(message.records, cast(tuple[str, ...], names),
                                                   message.granularity_ms, message.incomplete)
                except kpm_fast.Unsupported:
                    pass
            fmt = self._format1_value(message)
        elif message.format == 2:
            conditions = message.conditions or [((self._no_label(),), None) for _ in message.measurements]
            if not message.records or len(conditions) != len(message.measurements):
                raise E2smError("indication message format 2 needs records and one condition per measurement")
            items = []
            for m, (cond, ues) in zip(message.measurements, conditions, strict=True):
                item: dict[str, Any] = {"measType": _meas_type(m), "matchingCond": list(cond)}
                if ues is not None:
                    item["matchingUEidList"] = [{"ueID": u} for u in ues]
                items.append(item)
            fmt = {"measData": self._meas_data(message), "measCondUEidList": items}
            if message.granularity_ms is not None:
                fmt["granulPeriod"] = message.granularity_ms
        elif message.format == 3:
            if not message.ue_reports:
                raise E2smError("indication message format 3 needs ue_reports")
            fmt = {"ueMeasReportList": [{"ueID": ue, "measReport": self._format1_value(report)}
                                        for ue, report in message.ue_reports]}
        else:
            raise E2smError(f"indication message format {message.format}: E2SM-KPM defines formats 1 to 3")
        return self._encode("E2SM-KPM-IndicationMessage",
                            {"indicationMessage-formats": (f"indicationMessage-Format{message.format}", fmt)})

    @staticmethod
    def _records(fmt: dict[str, Any]) -> tuple[tuple[tuple[Value, ...], ...], tuple[bool, ...]]:
        records = tuple(tuple(None if k == "noValue" else v for k, v in item["measRecord"]) for item in fmt["measData"])
        return records, tuple("incompleteFlag" in item for item in fmt["measData"])

    def _message_from(self, value: dict[str, Any]) -> IndicationMessage:
        kind, fmt = value["indicationMessage-formats"]
        if kind == "indicationMessage-Format3":
            reports = tuple((r["ueID"], self._message_from({"indicationMessage-formats": (
                "indicationMessage-Format1", r["measReport"])})) for r in fmt["ueMeasReportList"])
            return IndicationMessage((), format=3, ue_reports=reports)
        records, incomplete = self._records(fmt)
        if kind == "indicationMessage-Format2":
            items = fmt["measCondUEidList"]
            names = tuple(_meas_from(i["measType"]) for i in items)
            conditions = tuple((tuple(i["matchingCond"]), tuple(u["ueID"] for u in i["matchingUEidList"])
                                if "matchingUEidList" in i else None) for i in items)
            default = tuple(((self._no_label(),), None) for _ in names)
            return IndicationMessage(records, names, fmt.get("granulPeriod"), incomplete, 2,
                                     None if conditions == default else conditions)
        names = tuple(_meas_from(i["measType"]) for i in fmt.get("measInfoList", []))
        return IndicationMessage(records, names, fmt.get("granulPeriod"), incomplete)

    @parsing
    def decode_indication_message(self, data: bytes) -> IndicationMessage:
        """Parse an indication message of any format (1..3)."""
        if self.fast:
            try:
                records, names, granularity, flags = kpm_fast.decode_message(bytes(data))
                kpm_fast.check_strings(names)
                return IndicationMessage(records, names, granularity, flags)
            except (kpm_fast.Unsupported, UnicodeDecodeError):
                pass
        value = self._decode("E2SM-KPM-IndicationMessage", data)
        return replace(self._message_from(value), raw=value)


def detect_version(header: bytes, preferred: int = 3) -> int:
    """The E2SM-KPM version (2 or 3) an indication header was written in, ``preferred`` tried first.

    Both versions publish under one RAN function OID (kpimon-go's Viavi node sends v2, srsRAN v3,
    both as 1.3.6.1.4.1.53148.1.2.2.2); the header tells them apart: v2 has a 4-octet collection
    start time, v3 an 8-octet one, and the wrong one does not parse as a header. Raises
    :class:`E2smError` when neither does.
    """
    errors = []
    for version in (preferred, 5 - preferred):
        try:
            KpmCodec(version).decode_indication_header(header)
            return version
        except E2smError as exc:
            errors.append(f"v{version}: {exc}")
    raise E2smError("not an E2SM-KPM v2 or v3 indication header (" + "; ".join(errors) + ")")
