"""E2AP v3 messages as typed dataclasses, encoded by pycrate's bundled O-RAN E2AP module (APER).

Typed: E2 Setup request/response/failure (all four global E2 node id kinds: gNB, en-gNB, ng-eNB,
eNB, and the node's component configurations), Error Indication, RIC Indication, RIC Subscription
request/response/failure, RIC Subscription Delete request/response, RIC Control
request/acknowledge/failure. Every other E2AP v3 procedure (E2 connection update, E2 node
configuration update, RIC service update/query, reset, E2 removal, subscription modification,
delete required, ...) decodes to :class:`Procedure`: its name, procedure code and every IE.

Decoding is lossless: every message keeps the complete decoded ASN.1 value (``raw``, plain
Python dicts, tuples, ints and bytes; not part of equality), so a message that was not changed
re-encodes to the bytes it came from, whatever fields, criticalities or extensions its sender
put there. A message built or changed in code is encoded from its typed fields.

Callers never touch pycrate objects; E2SM payloads travel as bytes. pycrate's module object is
process-global, so encoding and decoding are serialised by a lock. Malformed bytes, E2AP v1
messages and unknown node kinds raise :class:`E2apError` naming what is wrong.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

from ranml.errors import RanmlError
from ranml.protocols.e2ap_fast import Unsupported, decode_indication, encode_indication

__all__ = [
    "NODE_TYPES",
    "ControlAck",
    "ControlFailure",
    "ControlRequest",
    "E2NodeComponent",
    "E2SetupFailure",
    "E2SetupRequest",
    "E2SetupResponse",
    "E2apError",
    "ErrorIndication",
    "Indication",
    "Procedure",
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
_RAW = field(default=None, compare=False, repr=False)  # the decoded ASN.1 value, for lossless re-encoding
NODE_TYPES = ("gNB", "en-gNB", "ng-eNB", "eNB")
Cause = tuple[str, str]
_NOT_ADMITTED: Cause = ("ricRequest", "action-not-supported")


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
    call_process_id: bytes | None = None
    raw: Any = _RAW


@dataclass(frozen=True)
class SubscriptionRequest:
    """RIC Subscription request (procedure 8): event trigger and actions.

    ``actions`` holds ``(action id, action definition)``; ``action_types`` the type of each
    (``report``, ``insert``, ``policy``; empty: all ``report``); ``subsequent`` the actions with a
    subsequent action as ``(action id, type, time to wait)``, e.g. ``(1, "continue", "w20ms")``.
    """

    requestor_id: int
    instance_id: int
    ran_function_id: int
    event_trigger: bytes
    actions: tuple[tuple[int, bytes | None], ...]
    action_types: tuple[str, ...] = ()
    subsequent: tuple[tuple[int, str, str], ...] = ()
    raw: Any = _RAW


@dataclass(frozen=True)
class SubscriptionResponse:
    """RIC Subscription response: admitted and not admitted action ids (with the causes of the latter)."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    admitted: tuple[int, ...]
    not_admitted: tuple[int, ...] = ()
    not_admitted_causes: tuple[Cause, ...] = ()
    raw: Any = _RAW


@dataclass(frozen=True)
class SubscriptionFailure:
    """RIC Subscription failure with its cause."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    cause: Cause = ("ricRequest", "unspecified")
    raw: Any = _RAW


@dataclass(frozen=True)
class SubscriptionDeleteRequest:
    """RIC Subscription Delete request (procedure 9)."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    raw: Any = _RAW


@dataclass(frozen=True)
class SubscriptionDeleteResponse:
    """RIC Subscription Delete response."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    raw: Any = _RAW


@dataclass(frozen=True)
class ControlRequest:
    """RIC Control request (procedure 4): E2SM control header and message."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    header: bytes
    message: bytes
    ack_requested: bool = True
    call_process_id: bytes | None = None
    raw: Any = _RAW


@dataclass(frozen=True)
class ControlAck:
    """RIC Control acknowledge (with an optional E2SM outcome)."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    outcome: bytes | None = None
    call_process_id: bytes | None = None
    raw: Any = _RAW


@dataclass(frozen=True)
class ControlFailure:
    """RIC Control failure with its cause."""

    requestor_id: int
    instance_id: int
    ran_function_id: int
    cause: Cause = ("ricRequest", "unspecified")
    outcome: bytes | None = None
    call_process_id: bytes | None = None
    raw: Any = _RAW


@dataclass(frozen=True)
class E2NodeComponent:
    """One E2 node component configuration (E2 Setup): interface, its id, request and response parts.

    ``component_id`` is the interface's id as ASN.1 value, e.g. ``{"amf-name": "amf1"}`` for NG or
    ``{"gNB-DU-ID": 7}`` for F1; ``None`` when the node sent none.
    """

    interface: str
    component_id: dict[str, Any] | None
    request_part: bytes = b"\x00"
    response_part: bytes = b"\x00"


_INTERFACE_CHOICE = {"ng": "NG", "xn": "Xn", "e1": "E1", "f1": "F1", "w1": "W1", "s1": "S1", "x2": "X2"}


@dataclass(frozen=True)
class E2SetupRequest:
    """E2 Setup request (procedure 1): the node's global id, its RAN functions and components.

    ``ran_functions`` holds ``(function id, E2SM definition bytes, revision, service-model OID)``.
    ``node_type`` is one of :data:`NODE_TYPES`; ``gnb_id`` / ``gnb_id_bits`` carry the gNB id
    (22..32 bits) or the eNB id (macro 20, home 28, short macro 18, long macro 21 bits).
    ``components`` are the component configurations; left empty, one NG component named
    ``amf_name`` is sent (E2AP v2+ needs at least one). Decoded, ``amf_name`` is the AMF name
    of the NG component on the wire (``None`` without one).
    """

    transaction_id: int
    plmn: bytes
    gnb_id: int
    ran_functions: tuple[tuple[int, bytes, int, str], ...]
    gnb_id_bits: int = 22
    amf_name: str | None = "amf"
    node_type: str = "gNB"
    components: tuple[E2NodeComponent, ...] = ()
    raw: Any = _RAW


@dataclass(frozen=True)
class E2SetupResponse:
    """E2 Setup response: the RIC's id, the accepted ``(id, revision)`` and rejected ``(id, cause)`` functions.

    ``amf_name`` names the NG component acknowledged (``None``: no NG component in the answer).
    """

    transaction_id: int
    ric_plmn: bytes
    ric_id: int
    accepted: tuple[tuple[int, int], ...]
    amf_name: str | None = "amf"
    rejected: tuple[tuple[int, Cause], ...] = ()
    raw: Any = _RAW


@dataclass(frozen=True)
class E2SetupFailure:
    """E2 Setup failure with its cause."""

    transaction_id: int
    cause: Cause = ("misc", "unspecified")
    raw: Any = _RAW


@dataclass(frozen=True)
class ErrorIndication:
    """Error Indication (procedure 2); every field optional."""

    transaction_id: int | None = None
    requestor_id: int | None = None
    instance_id: int | None = None
    ran_function_id: int | None = None
    cause: Cause | None = None
    raw: Any = _RAW


@dataclass(frozen=True)
class Procedure:
    """Any other E2AP v3 message: its name, procedure code and IEs, as on the wire.

    ``ies`` holds ``(id, criticality, type name, value)`` with the value as ASN.1 value (plain
    dicts, tuples, ints, bytes), e.g. ``(49, "reject", "TransactionID", 3)``.
    """

    kind: str  # initiatingMessage / successfulOutcome / unsuccessfulOutcome
    name: str  # e.g. E2connectionUpdate, RICserviceQuery, ResetRequest
    procedure_code: int
    ies: tuple[tuple[int, str, str, Any], ...]
    criticality: str = "reject"
    raw: Any = _RAW

    def ie(self, type_name: str) -> Any:
        """The value of the first IE of ``type_name`` (``KeyError`` naming it when absent)."""
        for _, _, name, value in self.ies:
            if name == type_name:
                return value
        raise KeyError(f"{self.name} has no {type_name} IE")

    @property
    def transaction_id(self) -> int | None:
        """The TransactionID IE, for the procedures that carry one."""
        try:
            return int(self.ie("TransactionID"))
        except KeyError:
            return None


Message = (Indication | SubscriptionRequest | SubscriptionResponse | SubscriptionFailure | SubscriptionDeleteRequest
           | SubscriptionDeleteResponse | ControlRequest | ControlAck | ControlFailure | E2SetupRequest
           | E2SetupResponse | E2SetupFailure | ErrorIndication | Procedure)


def _pdu() -> Any:
    from pycrate_asn1dir import E2AP

    return E2AP.E2AP_PDU_Descriptions.E2AP_PDU


def _ie(ie_id: int, type_name: str, value: Any, crit: str = "reject") -> dict[str, Any]:
    return {"id": ie_id, "criticality": crit, "value": (type_name, value)}


def _common(m: Any) -> list[dict[str, Any]]:
    return [_ie(29, "RICrequestID", {"ricRequestorID": m.requestor_id, "ricInstanceID": m.instance_id}),
            _ie(5, "RANfunctionID", m.ran_function_id)]


# -- global E2 node id ---------------------------------------------------------------------------
_ENB_CHOICE = {20: "macro-eNB-ID", 28: "home-eNB-ID", 18: "short-Macro-eNB-ID", 21: "long-Macro-eNB-ID"}
_NG_ENB_CHOICE = {20: "enb-ID-macro", 18: "enb-ID-shortmacro", 21: "enb-ID-longmacro"}


# per node kind: its GlobalE2node-ID field, and the PLMN and id field names inside it
_NODE_ID_FIELDS = {"gNB": ("global-gNB-ID", "plmn-id", "gnb-id"),
                   "en-gNB": ("global-en-gNB-ID", "pLMN-Identity", "gNB-ID"),
                   "ng-eNB": ("global-ng-eNB-ID", "plmn-id", "enb-id"),
                   "eNB": ("global-eNB-ID", "pLMN-Identity", "eNB-ID")}


def _node_id_value(m: E2SetupRequest) -> tuple[str, dict[str, Any]]:
    if m.node_type not in _NODE_ID_FIELDS:
        raise E2apError(f"E2SetupRequest node_type {m.node_type!r}: use one of {', '.join(NODE_TYPES)}")
    if m.node_type == "ng-eNB" and m.gnb_id_bits not in _NG_ENB_CHOICE:
        raise E2apError(f"ng-eNB id of {m.gnb_id_bits} bits: use 20 (macro), 18 (short macro) or 21 (long macro)")
    if m.node_type == "eNB" and m.gnb_id_bits not in _ENB_CHOICE:
        raise E2apError(f"eNB id of {m.gnb_id_bits} bits: use 20 (macro), 28 (home), 18 or 21 (short/long macro)")
    choice = {"gNB": "gnb-ID", "en-gNB": "gNB-ID"}.get(m.node_type) or (
        _NG_ENB_CHOICE if m.node_type == "ng-eNB" else _ENB_CHOICE)[m.gnb_id_bits]
    outer, plmn, ident = _NODE_ID_FIELDS[m.node_type]
    return m.node_type, {outer: {plmn: m.plmn, ident: (choice, (m.gnb_id, m.gnb_id_bits))}}


def _node_id_from(choice: tuple[str, dict[str, Any]]) -> tuple[str, bytes, int, int]:
    kind, value = choice
    if kind not in _NODE_ID_FIELDS:
        raise E2apError(f"E2 Setup from a node of unknown type {kind!r} (known: {', '.join(NODE_TYPES)})")
    outer, plmn, ident = _NODE_ID_FIELDS[kind]
    gid = value[outer]
    number, bits = gid[ident][1]
    return kind, bytes(gid[plmn]), int(number), int(bits)


# -- E2 node components --------------------------------------------------------------------------
def _component_id(interface: str, component_id: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = {"e2nodeComponentInterfaceType": interface}
    if component_id is not None:
        choice = _INTERFACE_CHOICE.get(interface)
        if choice is None:
            raise E2apError(f"E2 node component interface {interface!r}: use one of {', '.join(_INTERFACE_CHOICE)}")
        item["e2nodeComponentID"] = (f"e2nodeComponentInterfaceType{choice}", component_id)
    return item


def _components(m: E2SetupRequest) -> tuple[E2NodeComponent, ...]:
    if m.components:
        return m.components
    if m.amf_name is None:
        raise E2apError("E2SetupRequest: give components or an amf_name (E2AP v2+ needs one component)")
    return (E2NodeComponent("ng", {"amf-name": m.amf_name}),)


def _component_from(item: dict[str, Any]) -> E2NodeComponent:
    config = item["e2nodeComponentConfiguration"]
    cid = item.get("e2nodeComponentID")
    return E2NodeComponent(str(item["e2nodeComponentInterfaceType"]), dict(cid[1]) if cid else None,
                           bytes(config["e2nodeComponentRequestPart"]), bytes(config["e2nodeComponentResponsePart"]))


def _amf_name(items: list[dict[str, Any]]) -> str | None:
    for item in items:
        cid = item.get("e2nodeComponentID")
        if item.get("e2nodeComponentInterfaceType") == "ng" and cid and cid[0] == "e2nodeComponentInterfaceTypeNG":
            return str(cid[1]["amf-name"])
    return None


def _setup_value(m: E2SetupRequest | E2SetupResponse | E2SetupFailure | ErrorIndication) -> tuple[str, dict[str, Any]]:
    if isinstance(m, E2SetupRequest):
        functions = [_ie(8, "RANfunction-Item", {"ranFunctionID": fid, "ranFunctionDefinition": definition,
                                                 "ranFunctionRevision": rev, "ranFunctionOID": oid}, "ignore")
                     for fid, definition, rev, oid in m.ran_functions]
        components = [_ie(51, "E2nodeComponentConfigAddition-Item",
                          {**_component_id(c.interface, c.component_id),
                           "e2nodeComponentConfiguration": {"e2nodeComponentRequestPart": c.request_part,
                                                            "e2nodeComponentResponsePart": c.response_part}})
                      for c in _components(m)]
        ies = [_ie(49, "TransactionID", m.transaction_id), _ie(3, "GlobalE2node-ID", _node_id_value(m)),
               _ie(10, "RANfunctions-List", functions),
               _ie(50, "E2nodeComponentConfigAddition-List", components)]
        return "initiatingMessage", {"procedureCode": 1, "criticality": "reject",
                                     "value": ("E2setupRequest", {"protocolIEs": ies})}
    if isinstance(m, E2SetupResponse):
        accepted = [_ie(6, "RANfunctionID-Item", {"ranFunctionID": fid, "ranFunctionRevision": rev}, "ignore")
                    for fid, rev in m.accepted]
        ies = [_ie(49, "TransactionID", m.transaction_id),
               _ie(4, "GlobalRIC-ID", {"pLMN-Identity": m.ric_plmn, "ric-ID": (m.ric_id, 20)}),
               _ie(9, "RANfunctionsID-List", accepted)]
        if m.rejected:
            ies.append(_ie(13, "RANfunctionsIDcause-List",
                           [_ie(7, "RANfunctionIDcause-Item", {"ranFunctionID": fid, "cause": cause}, "ignore")
                            for fid, cause in m.rejected]))
        acks = []
        if m.amf_name is not None:
            acks.append(_ie(53, "E2nodeComponentConfigAdditionAck-Item",
                            {**_component_id("ng", {"amf-name": m.amf_name}),
                             "e2nodeComponentConfigurationAck": {"updateOutcome": "success"}}))
        ies.append(_ie(52, "E2nodeComponentConfigAdditionAck-List", acks))
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


def _subscription_actions(m: SubscriptionRequest) -> list[dict[str, Any]]:
    if m.action_types and len(m.action_types) != len(m.actions):
        raise E2apError(f"SubscriptionRequest action_types: {len(m.action_types)} types for {len(m.actions)} actions")
    subsequent = {a: (kind, wait) for a, kind, wait in m.subsequent}
    actions = []
    for i, (action_id, definition) in enumerate(m.actions):
        item: dict[str, Any] = {"ricActionID": action_id,
                                "ricActionType": m.action_types[i] if m.action_types else "report"}
        if definition is not None:
            item["ricActionDefinition"] = definition
        if action_id in subsequent:
            kind, wait = subsequent[action_id]
            item["ricSubsequentAction"] = {"ricSubsequentActionType": kind, "ricTimeToWait": wait}
        actions.append(_ie(19, "RICaction-ToBeSetup-Item", item, "ignore"))
    return actions


def _value(m: Message) -> tuple[str, dict[str, Any]]:
    if isinstance(m, Procedure):
        return m.kind, {"procedureCode": m.procedure_code, "criticality": m.criticality,
                        "value": (m.name, {"protocolIEs": [_ie(i, t, v, c) for i, c, t, v in m.ies]})}
    if isinstance(m, E2SetupRequest | E2SetupResponse | E2SetupFailure | ErrorIndication):
        return _setup_value(m)
    ies = _common(m)
    if isinstance(m, Indication):
        ies.append(_ie(15, "RICactionID", m.action_id))
        if m.sn is not None:
            ies.append(_ie(27, "RICindicationSN", m.sn))
        ies += [_ie(28, "RICindicationType", m.indication_type), _ie(25, "RICindicationHeader", m.header),
                _ie(26, "RICindicationMessage", m.message)]
        if m.call_process_id is not None:
            ies.append(_ie(20, "RICcallProcessID", m.call_process_id))
        return "initiatingMessage", {"procedureCode": 5, "criticality": "ignore",
                                     "value": ("RICindication", {"protocolIEs": ies})}
    if isinstance(m, SubscriptionRequest):
        ies.append(_ie(30, "RICsubscriptionDetails", {"ricEventTriggerDefinition": m.event_trigger,
                                                      "ricAction-ToBeSetup-List": _subscription_actions(m)}))
        return "initiatingMessage", {"procedureCode": 8, "criticality": "reject",
                                     "value": ("RICsubscriptionRequest", {"protocolIEs": ies})}
    if isinstance(m, SubscriptionResponse):
        ies.append(_ie(17, "RICaction-Admitted-List",
                       [_ie(14, "RICaction-Admitted-Item", {"ricActionID": a}, "ignore") for a in m.admitted]))
        if m.not_admitted:
            causes = list(m.not_admitted_causes) + [_NOT_ADMITTED] * len(m.not_admitted)
            ies.append(_ie(18, "RICaction-NotAdmitted-List",
                           [_ie(16, "RICaction-NotAdmitted-Item", {"ricActionID": a, "cause": cause}, "ignore")
                            for a, cause in zip(m.not_admitted, causes, strict=False)]))
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
    if m.call_process_id is not None:
        ies.append(_ie(20, "RICcallProcessID", m.call_process_id))
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
    """APER bytes of one E2AP PDU (RIC indications take the fast path of :mod:`.e2ap_fast`).

    A decoded message that was not changed is re-encoded from its ``raw`` value: the same bytes.
    """
    if isinstance(message, Indication) and message.raw is None:
        try:
            return encode_indication(message.requestor_id, message.instance_id, message.ran_function_id,
                                               message.action_id, message.sn, message.indication_type,
                                               message.header, message.message)
        except Unsupported:
            pass
    return encode_reference(message)


def _unchanged_raw(message: Message) -> Any:
    """``message.raw`` when the typed fields still describe it (not replaced since decoding)."""
    if message.raw is None:
        return None
    try:
        typed = _from_value(*message.raw)
    except (E2apError, KeyError, TypeError, ValueError, IndexError):
        return None
    return message.raw if typed == message else None


def encode_reference(message: Message) -> bytes:
    """APER bytes of one E2AP PDU, always through pycrate (the reference for the fast path)."""
    value = _unchanged_raw(message) or _value(message)
    with _LOCK:
        pdu = _pdu()
        try:
            pdu.set_val(value)
            data: bytes = pdu.to_aper()
        except Exception as exc:  # pycrate raises its own error types for bad values
            raise E2apError(f"cannot encode {type(message).__name__}: {exc}") from None
    return data


def decode(data: bytes) -> Message:
    """Parse one E2AP PDU into its dataclass.

    Raises
    ------
    E2apError
        Malformed bytes, an E2AP v1 message, or a node type E2AP does not define (the message names it).
    """
    if data[:2] == b"\x00\x05":
        try:
            req, inst, fn, action, sn, kind, header, message = decode_indication(bytes(data))
            return Indication(req, inst, fn, action, header, message, sn, kind)
        except Unsupported:
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
            raise E2apError(f"malformed E2AP PDU ({len(data)} bytes): {type(exc).__name__}: {exc} "
                            "(ranml decodes E2AP v2/v3; an E2AP v1 peer is not supported)") from None
    try:
        message = _from_value(kind, body)
    except E2apError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        name = body.get("value", ("?",))[0] if isinstance(body, dict) else "?"
        raise E2apError(f"unexpected content in E2AP {name}: {type(exc).__name__}: {exc}") from None
    return dataclasses.replace(message, raw=(kind, body))


def _cause(value: Any) -> Cause:
    return str(value[0]), str(value[1])


def _items(ies: dict[int, Any], ie_id: int) -> list[dict[str, Any]]:
    return [item["value"][1] for item in ies.get(ie_id, [])]


def _from_value(kind: str, body: dict[str, Any]) -> Message:
    name, content = body["value"]
    ie_list = content["protocolIEs"]
    ies = {ie["id"]: ie["value"][1] for ie in ie_list}
    if name == "E2setupRequest":
        if 49 not in ies:
            raise E2apError("E2 Setup Request without a TransactionID: an E2AP v1 node (O-RAN.WG3.E2AP-v01); "
                            "ranml speaks E2AP v2/v3")
        node_type, plmn, ident, bits = _node_id_from(ies[3])
        functions = tuple((int(f["ranFunctionID"]), bytes(f["ranFunctionDefinition"]),
                           int(f["ranFunctionRevision"]), str(f["ranFunctionOID"])) for f in _items(ies, 10))
        items = _items(ies, 50)
        amf_name = _amf_name(items)
        components = tuple(_component_from(c) for c in items)
        if components == (E2NodeComponent("ng", {"amf-name": amf_name}),):
            components = ()  # what encoding with amf_name alone writes
        return E2SetupRequest(int(ies[49]), plmn, ident, functions, bits, amf_name, node_type, components)
    if name == "E2setupResponse":
        ric = ies[4]
        accepted = tuple((int(f["ranFunctionID"]), int(f["ranFunctionRevision"])) for f in _items(ies, 9))
        rejected = tuple((int(f["ranFunctionID"]), _cause(f["cause"])) for f in _items(ies, 13))
        return E2SetupResponse(int(ies[49]), bytes(ric["pLMN-Identity"]), int(ric["ric-ID"][0]), accepted,
                               _amf_name(_items(ies, 52)), rejected)
    if name == "E2setupFailure":
        return E2SetupFailure(int(ies[49]), _cause(ies[1]))
    if name == "ErrorIndication":
        req = ies.get(29)
        return ErrorIndication(ies.get(49), req["ricRequestorID"] if req else None,
                               req["ricInstanceID"] if req else None, ies.get(5),
                               _cause(ies[1]) if 1 in ies else None)
    if name not in _TYPED:
        return Procedure(kind, name, int(body["procedureCode"]),
                         tuple((int(ie["id"]), str(ie["criticality"]), str(ie["value"][0]), ie["value"][1])
                               for ie in ie_list), str(body["criticality"]))
    req = ies[29]
    base = (int(req["ricRequestorID"]), int(req["ricInstanceID"]), int(ies[5]))
    call = bytes(ies[20]) if 20 in ies else None
    if name == "RICindication":
        return Indication(*base, action_id=int(ies[15]), header=bytes(ies[25]), message=bytes(ies[26]),
                          sn=ies.get(27), indication_type=str(ies.get(28, "report")), call_process_id=call)
    if name == "RICsubscriptionRequest":
        details = ies[30]
        items = [a["value"][1] for a in details["ricAction-ToBeSetup-List"]]
        actions = tuple((int(a["ricActionID"]), a.get("ricActionDefinition")) for a in items)
        types = tuple(str(a["ricActionType"]) for a in items)
        subsequent = tuple((int(a["ricActionID"]), str(a["ricSubsequentAction"]["ricSubsequentActionType"]),
                            str(a["ricSubsequentAction"]["ricTimeToWait"]))
                           for a in items if "ricSubsequentAction" in a)
        return SubscriptionRequest(*base, event_trigger=bytes(details["ricEventTriggerDefinition"]), actions=actions,
                                   action_types=() if set(types) <= {"report"} else types, subsequent=subsequent)
    if name == "RICsubscriptionResponse":
        admitted = tuple(int(a["ricActionID"]) for a in _items(ies, 17))
        refused = _items(ies, 18)
        causes = tuple(_cause(a["cause"]) for a in refused)
        if set(causes) <= {_NOT_ADMITTED}:
            causes = ()  # the default: what encoding with no causes writes
        return SubscriptionResponse(*base, admitted=admitted,
                                    not_admitted=tuple(int(a["ricActionID"]) for a in refused),
                                    not_admitted_causes=causes)
    if name == "RICsubscriptionFailure":
        return SubscriptionFailure(*base, cause=_cause(ies[1]))
    if name == "RICsubscriptionDeleteRequest":
        return SubscriptionDeleteRequest(*base)
    if name == "RICsubscriptionDeleteResponse":
        return SubscriptionDeleteResponse(*base)
    if name == "RICcontrolRequest":
        return ControlRequest(*base, header=bytes(ies[22]), message=bytes(ies[23]),
                              ack_requested=ies.get(21, "noAck") == "ack", call_process_id=call)
    if name == "RICcontrolAcknowledge":
        return ControlAck(*base, outcome=ies.get(32), call_process_id=call)
    return ControlFailure(*base, cause=_cause(ies[1]), outcome=ies.get(32), call_process_id=call)


_TYPED = frozenset({"RICindication", "RICsubscriptionRequest", "RICsubscriptionResponse", "RICsubscriptionFailure",
                    "RICsubscriptionDeleteRequest", "RICsubscriptionDeleteResponse", "RICcontrolRequest",
                    "RICcontrolAcknowledge", "RICcontrolFailure"})
