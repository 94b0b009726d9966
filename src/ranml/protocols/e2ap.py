"""E2AP messages with typed dataclasses, encoded by pycrate's bundled O-RAN E2AP module (APER).

Covered: E2 Setup request/response/failure, Error Indication, RIC Indication, RIC Subscription
request/response/failure, RIC Subscription Delete request/response, RIC Control
request/acknowledge/failure. Callers never touch pycrate values; the
E2SM payloads travel as bytes. pycrate's module object is process-global, so encoding and
decoding are serialised by a lock. Malformed bytes raise :class:`E2apError`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ranml.errors import RanmlError
from ranml.protocols import e2ap_fast

__all__ = [
    "ControlAck",
    "ControlFailure",
    "ControlRequest",
    "E2SetupFailure",
    "E2SetupRequest",
    "E2SetupResponse",
    "E2apError",
    "ErrorIndication",
    "Indication",
    "SubscriptionDeleteRequest",
    "SubscriptionDeleteResponse",
    "SubscriptionFailure",
    "SubscriptionRequest",
    "SubscriptionResponse",
    "decode",
    "decode_reference",
    "encode",
    "encode_reference",
]

_LOCK = threading.Lock()


class E2apError(RanmlError):
    """E2AP bytes that cannot be decoded, or a value that cannot be encoded."""


@dataclass(frozen=True)
class Indication:
    """RIC Indication (procedure 5): a report from the E2 node."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    action_id: int
    header: bytes
    message: bytes
    sn: int | None = None
    indication_type: str = "report"


@dataclass(frozen=True)
class SubscriptionRequest:
    """RIC Subscription request (procedure 8): event trigger and report actions."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    event_trigger: bytes
    actions: tuple[tuple[int, bytes | None], ...]  # (action id, action definition)


@dataclass(frozen=True)
class SubscriptionResponse:
    """RIC Subscription response: admitted (and not admitted) action ids."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    admitted: tuple[int, ...]
    not_admitted: tuple[int, ...] = ()


@dataclass(frozen=True)
class SubscriptionFailure:
    """RIC Subscription failure with its cause."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    cause: tuple[str, str] = ("ricRequest", "unspecified")


@dataclass(frozen=True)
class SubscriptionDeleteRequest:
    """RIC Subscription Delete request (procedure 9)."""

    requestor_id: int
    instance_id: int
    ran_function_id: int


@dataclass(frozen=True)
class SubscriptionDeleteResponse:
    """RIC Subscription Delete response."""

    requestor_id: int
    instance_id: int
    ran_function_id: int


@dataclass(frozen=True)
class ControlRequest:
    """RIC Control request (procedure 4): E2SM control header and message."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    header: bytes
    message: bytes
    ack_requested: bool = True


@dataclass(frozen=True)
class ControlAck:
    """RIC Control acknowledge (with an optional E2SM outcome)."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    outcome: bytes | None = None


@dataclass(frozen=True)
class ControlFailure:
    """RIC Control failure with its cause."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    cause: tuple[str, str] = ("ricRequest", "unspecified")
    outcome: bytes | None = field(default=None)


@dataclass(frozen=True)
class E2SetupRequest:
    """E2 Setup request (procedure 1) from a gNB: its id, RAN functions and NG component.

    ``ran_functions`` holds ``(function id, E2SM definition bytes, revision, service-model OID)``.
    """

    transaction_id: int
    plmn: bytes
    gnb_id: int
    ran_functions: tuple[tuple[int, bytes, int, str], ...]
    gnb_id_bits: int = 22
    amf_name: str = "amf"


@dataclass(frozen=True)
class E2SetupResponse:
    """E2 Setup response: the RIC's id and the accepted RAN functions ``(id, revision)``."""

    transaction_id: int
    ric_plmn: bytes
    ric_id: int
    accepted: tuple[tuple[int, int], ...]
    amf_name: str = "amf"


@dataclass(frozen=True)
class E2SetupFailure:
    """E2 Setup failure with its cause."""

    transaction_id: int
    cause: tuple[str, str] = ("misc", "unspecified")


@dataclass(frozen=True)
class ErrorIndication:
    """Error Indication (procedure 2); every field optional."""

    transaction_id: int | None = None
    requestor_id: int | None = None
    instance_id: int | None = None
    ran_function_id: int | None = None
    cause: tuple[str, str] | None = None


Message = (Indication | SubscriptionRequest | SubscriptionResponse | SubscriptionFailure | SubscriptionDeleteRequest
           | SubscriptionDeleteResponse | ControlRequest | ControlAck | ControlFailure | E2SetupRequest
           | E2SetupResponse | E2SetupFailure | ErrorIndication)


def _pdu() -> Any:
    from pycrate_asn1dir import E2AP

    return E2AP.E2AP_PDU_Descriptions.E2AP_PDU


def _ie(ie_id: int, type_name: str, value: Any, crit: str = "reject") -> dict[str, Any]:
    return {"id": ie_id, "criticality": crit, "value": (type_name, value)}


def _common(m: Any) -> list[dict[str, Any]]:
    return [_ie(29, "RICrequestID", {"ricRequestorID": m.requestor_id, "ricInstanceID": m.instance_id}),
            _ie(5, "RANfunctionID", m.ran_function_id)]


def _ng_component(amf_name: str) -> dict[str, Any]:
    return {"e2nodeComponentInterfaceType": "ng",
            "e2nodeComponentID": ("e2nodeComponentInterfaceTypeNG", {"amf-name": amf_name})}


SetupMessage = E2SetupRequest | E2SetupResponse | E2SetupFailure | ErrorIndication


def _setup_value(m: SetupMessage) -> tuple[str, dict[str, Any]]:
    if isinstance(m, E2SetupRequest):
        gnb = {"global-gNB-ID": {"plmn-id": m.plmn, "gnb-id": ("gnb-ID", (m.gnb_id, m.gnb_id_bits))}}
        functions = [_ie(8, "RANfunction-Item", {"ranFunctionID": fid, "ranFunctionDefinition": definition,
                                                 "ranFunctionRevision": rev, "ranFunctionOID": oid}, "ignore")
                     for fid, definition, rev, oid in m.ran_functions]
        component = {**_ng_component(m.amf_name),
                      "e2nodeComponentConfiguration": {"e2nodeComponentRequestPart": b"\x00",
                                                       "e2nodeComponentResponsePart": b"\x00"}}
        ies = [_ie(49, "TransactionID", m.transaction_id), _ie(3, "GlobalE2node-ID", ("gNB", gnb)),
               _ie(10, "RANfunctions-List", functions),
               _ie(50, "E2nodeComponentConfigAddition-List",
                   [_ie(51, "E2nodeComponentConfigAddition-Item", component)])]
        return "initiatingMessage", {"procedureCode": 1, "criticality": "reject",
                                     "value": ("E2setupRequest", {"protocolIEs": ies})}
    if isinstance(m, E2SetupResponse):
        accepted = [_ie(6, "RANfunctionID-Item", {"ranFunctionID": fid, "ranFunctionRevision": rev}, "ignore")
                    for fid, rev in m.accepted]
        ack = {**_ng_component(m.amf_name), "e2nodeComponentConfigurationAck": {"updateOutcome": "success"}}
        ies = [_ie(49, "TransactionID", m.transaction_id),
               _ie(4, "GlobalRIC-ID", {"pLMN-Identity": m.ric_plmn, "ric-ID": (m.ric_id, 20)}),
               _ie(9, "RANfunctionsID-List", accepted),
               _ie(52, "E2nodeComponentConfigAdditionAck-List",
                   [_ie(53, "E2nodeComponentConfigAdditionAck-Item", ack)])]
        return "successfulOutcome", {"procedureCode": 1, "criticality": "reject",
                                     "value": ("E2setupResponse", {"protocolIEs": ies})}
    if isinstance(m, E2SetupFailure):
        ies = [_ie(49, "TransactionID", m.transaction_id), _ie(1, "Cause", m.cause, "ignore")]
        return "unsuccessfulOutcome", {"procedureCode": 1, "criticality": "reject",
                                       "value": ("E2setupFailure", {"protocolIEs": ies})}
    ies = []
    if m.transaction_id is not None:
        ies.append(_ie(49, "TransactionID", m.transaction_id))
    if m.requestor_id is not None and m.instance_id is not None:
        ies.append(_ie(29, "RICrequestID", {"ricRequestorID": m.requestor_id, "ricInstanceID": m.instance_id}))
    if m.ran_function_id is not None:
        ies.append(_ie(5, "RANfunctionID", m.ran_function_id))
    if m.cause is not None:
        ies.append(_ie(1, "Cause", m.cause, "ignore"))
    return "initiatingMessage", {"procedureCode": 2, "criticality": "ignore",
                                 "value": ("ErrorIndication", {"protocolIEs": ies})}


def _value(m: Message) -> tuple[str, dict[str, Any]]:
    if isinstance(m, E2SetupRequest | E2SetupResponse | E2SetupFailure | ErrorIndication):
        return _setup_value(m)
    ies = _common(m)
    if isinstance(m, Indication):
        ies.append(_ie(15, "RICactionID", m.action_id))
        if m.sn is not None:
            ies.append(_ie(27, "RICindicationSN", m.sn))
        ies += [_ie(28, "RICindicationType", m.indication_type), _ie(25, "RICindicationHeader", m.header),
                _ie(26, "RICindicationMessage", m.message)]
        return "initiatingMessage", {"procedureCode": 5, "criticality": "ignore",
                                     "value": ("RICindication", {"protocolIEs": ies})}
    if isinstance(m, SubscriptionRequest):
        actions = []
        for action_id, definition in m.actions:
            item: dict[str, Any] = {"ricActionID": action_id, "ricActionType": "report"}
            if definition is not None:
                item["ricActionDefinition"] = definition
            actions.append(_ie(19, "RICaction-ToBeSetup-Item", item, "ignore"))
        ies.append(_ie(30, "RICsubscriptionDetails", {"ricEventTriggerDefinition": m.event_trigger,
                                                      "ricAction-ToBeSetup-List": actions}))
        return "initiatingMessage", {"procedureCode": 8, "criticality": "reject",
                                     "value": ("RICsubscriptionRequest", {"protocolIEs": ies})}
    if isinstance(m, SubscriptionResponse):
        ies.append(_ie(17, "RICaction-Admitted-List",
                       [_ie(14, "RICaction-Admitted-Item", {"ricActionID": a}, "ignore") for a in m.admitted]))
        if m.not_admitted:
            ies.append(_ie(18, "RICaction-NotAdmitted-List",
                           [_ie(16, "RICaction-NotAdmitted-Item",
                                {"ricActionID": a, "cause": ("ricRequest", "action-not-supported")}, "ignore")
                            for a in m.not_admitted]))
        return "successfulOutcome", {"procedureCode": 8, "criticality": "reject",
                                     "value": ("RICsubscriptionResponse", {"protocolIEs": ies})}
    if isinstance(m, SubscriptionFailure):
        ies.append(_ie(1, "Cause", m.cause, "ignore"))
        return "unsuccessfulOutcome", {"procedureCode": 8, "criticality": "reject",
                                       "value": ("RICsubscriptionFailure", {"protocolIEs": ies})}
    if isinstance(m, SubscriptionDeleteRequest):
        return "initiatingMessage", {"procedureCode": 9, "criticality": "reject",
                                     "value": ("RICsubscriptionDeleteRequest", {"protocolIEs": ies})}
    if isinstance(m, SubscriptionDeleteResponse):
        return "successfulOutcome", {"procedureCode": 9, "criticality": "reject",
                                     "value": ("RICsubscriptionDeleteResponse", {"protocolIEs": ies})}
    if isinstance(m, ControlRequest):
        ies += [_ie(22, "RICcontrolHeader", m.header), _ie(23, "RICcontrolMessage", m.message),
                _ie(21, "RICcontrolAckRequest", "ack" if m.ack_requested else "noAck")]
        return "initiatingMessage", {"procedureCode": 4, "criticality": "reject",
                                     "value": ("RICcontrolRequest", {"protocolIEs": ies})}
    if isinstance(m, ControlAck):
        if m.outcome is not None:
            ies.append(_ie(32, "RICcontrolOutcome", m.outcome))
        return "successfulOutcome", {"procedureCode": 4, "criticality": "reject",
                                     "value": ("RICcontrolAcknowledge", {"protocolIEs": ies})}
    ies.append(_ie(1, "Cause", m.cause, "ignore"))
    if m.outcome is not None:
        ies.append(_ie(32, "RICcontrolOutcome", m.outcome))
    return "unsuccessfulOutcome", {"procedureCode": 4, "criticality": "reject",
                                   "value": ("RICcontrolFailure", {"protocolIEs": ies})}


def encode(message: Message) -> bytes:
    """APER bytes of one E2AP PDU (RIC indications take the fast path of :mod:`.e2ap_fast`)."""
    if isinstance(message, Indication):
        try:
            return e2ap_fast.encode_indication(message.requestor_id, message.instance_id, message.ran_function_id,
                                               message.action_id, message.sn, message.indication_type,
                                               message.header, message.message)
        except e2ap_fast.Unsupported:
            pass
    return encode_reference(message)


def encode_reference(message: Message) -> bytes:
    """APER bytes of one E2AP PDU, always through pycrate (the reference for the fast path)."""
    kind, body = _value(message)
    with _LOCK:
        pdu = _pdu()
        try:
            pdu.set_val((kind, body))
            data: bytes = pdu.to_aper()
        except Exception as exc:  # pycrate raises its own error types for bad values
            raise E2apError(f"cannot encode {type(message).__name__}: {exc}") from None
    return data


def decode(data: bytes) -> Message:
    """Parse one E2AP PDU into its dataclass.

    Raises
    ------
    E2apError
        Malformed bytes, or a procedure this module does not cover (the message names it).
    """
    if data[:2] == b"\x00\x05":
        try:
            req, inst, fn, action, sn, kind, header, message = e2ap_fast.decode_indication(bytes(data))
            return Indication(req, inst, fn, action, header, message, sn, kind)
        except e2ap_fast.Unsupported:
            pass
    return decode_reference(data)


def decode_reference(data: bytes) -> Message:
    """Parse one E2AP PDU, always through pycrate (the reference for the fast path)."""
    with _LOCK:
        pdu = _pdu()
        try:
            pdu.from_aper(bytes(data))
            kind, body = pdu.get_val()
        except Exception as exc:  # malformed input must never escape as anything else
            raise E2apError(f"malformed E2AP PDU ({len(data)} bytes): {type(exc).__name__}: {exc}") from None
    try:
        return _from_value(kind, body)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise E2apError(f"unexpected E2AP content: {type(exc).__name__}: {exc}") from None


def _from_value(kind: str, body: dict[str, Any]) -> Message:
    name, content = body["value"]
    ies = {ie["id"]: ie["value"][1] for ie in content["protocolIEs"]}
    if name == "E2setupRequest":
        gnb = ies[3][1]["global-gNB-ID"]
        gid, bits = gnb["gnb-id"][1]
        functions = tuple((int(f["value"][1]["ranFunctionID"]), bytes(f["value"][1]["ranFunctionDefinition"]),
                           int(f["value"][1]["ranFunctionRevision"]), str(f["value"][1]["ranFunctionOID"]))
                          for f in ies[10])
        return E2SetupRequest(int(ies[49]), bytes(gnb["plmn-id"]), int(gid), functions, int(bits))
    if name == "E2setupResponse":
        ric = ies[4]
        accepted = tuple((int(f["value"][1]["ranFunctionID"]), int(f["value"][1]["ranFunctionRevision"]))
                         for f in ies.get(9, []))
        return E2SetupResponse(int(ies[49]), bytes(ric["pLMN-Identity"]), int(ric["ric-ID"][0]), accepted)
    if name == "E2setupFailure":
        return E2SetupFailure(int(ies[49]), tuple(ies[1]))  # type: ignore[arg-type]
    if name == "ErrorIndication":
        req = ies.get(29)
        return ErrorIndication(ies.get(49), req["ricRequestorID"] if req else None,
                               req["ricInstanceID"] if req else None, ies.get(5),
                               tuple(ies[1]) if 1 in ies else None)  # type: ignore[arg-type]
    req = ies.get(29, {"ricRequestorID": 0, "ricInstanceID": 0})
    base = (int(req["ricRequestorID"]), int(req["ricInstanceID"]), int(ies.get(5, 0)))
    if name == "RICindication":
        return Indication(*base, action_id=int(ies[15]), header=bytes(ies[25]), message=bytes(ies[26]),
                          sn=ies.get(27), indication_type=str(ies.get(28, "report")))
    if name == "RICsubscriptionRequest":
        details = ies[30]
        actions = tuple((int(a["value"][1]["ricActionID"]), a["value"][1].get("ricActionDefinition"))
                        for a in details["ricAction-ToBeSetup-List"])
        return SubscriptionRequest(*base, event_trigger=bytes(details["ricEventTriggerDefinition"]), actions=actions)
    if name == "RICsubscriptionResponse":
        admitted = tuple(int(a["value"][1]["ricActionID"]) for a in ies.get(17, []))
        not_admitted = tuple(int(a["value"][1]["ricActionID"]) for a in ies.get(18, []))
        return SubscriptionResponse(*base, admitted=admitted, not_admitted=not_admitted)
    if name == "RICsubscriptionFailure":
        return SubscriptionFailure(*base, cause=tuple(ies[1]))  # type: ignore[arg-type]
    if name == "RICsubscriptionDeleteRequest":
        return SubscriptionDeleteRequest(*base)
    if name == "RICsubscriptionDeleteResponse":
        return SubscriptionDeleteResponse(*base)
    if name == "RICcontrolRequest":
        return ControlRequest(*base, header=bytes(ies[22]), message=bytes(ies[23]),
                              ack_requested=ies.get(21, "noAck") == "ack")
    if name == "RICcontrolAcknowledge":
        return ControlAck(*base, outcome=ies.get(32))
    if name == "RICcontrolFailure":
        return ControlFailure(*base, cause=tuple(ies[1]), outcome=ies.get(32))  # type: ignore[arg-type]
    raise E2apError(f"E2AP {kind} {name} is not covered by ranml.protocols.e2ap yet")
