"""E2SM-RC codec with a typed API (APER via asn1tools, compiled lazily and once).

Covers what traffic steering needs: the control header format 1 (UE identity, style, action),
the control message format 1 (a tree of RAN parameters) and a RAN function definition that
advertises control styles. :meth:`RcCodec.encode_handover` / :meth:`RcCodec.decode_handover`
build and read the style 3 / action 1 handover command whose parameter tree is
``1 Target Primary Cell ID -> 2 CHOICE Target Cell -> 3 NR Cell -> 4 NR CGI``; the NR CGI element
holds the APER encoding of an NR-CGI in an octet string (as srsRAN and the OSC rc xApp do).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ranml.protocols.e2sm._asn import AsnCodec, E2smError, parsing
from ranml.protocols.e2sm.common import NrCgi

__all__ = [
    "HANDOVER_ACTION",
    "MOBILITY_STYLE",
    "RADIO_RESOURCE_STYLE",
    "RC_OID",
    "SLICE_QUOTA_ACTION",
    "ControlAction",
    "ControlHeader",
    "ControlStyle",
    "GnbDuUeId",
    "GnbUeId",
    "Guami",
    "HandoverControl",
    "PolicyAction",
    "RanParameter",
    "RcActionDefinition",
    "RcCodec",
    "RcRanFunctionDefinition",
    "SliceQuota",
]

RC_OID = "1.3.6.1.4.1.53148.1.1.2.3"
MOBILITY_STYLE = 3  # connected-mode mobility control
HANDOVER_ACTION = 1
_TARGET_PRIMARY_CELL, _TARGET_CELL_CHOICE, _NR_CELL, _NR_CGI = 1, 2, 3, 4
RADIO_RESOURCE_STYLE = 2  # radio resource allocation control
SLICE_QUOTA_ACTION = 6  # slice-level PRB quota
# E2SM-RC 8.4.3.6: RRM Policy Ratio List > Group > RRM Policy > Member List > Member (PLMN, S-NSSAI (SST, SD)),
# and the group's Min / Max / Dedicated PRB Policy Ratio
_RATIO_LIST, _RATIO_GROUP, _RRM_POLICY, _MEMBER_LIST, _MEMBER, _PLMN, _S_NSSAI, _SST, _SD = 1, 2, 3, 5, 6, 7, 8, 9, 10
_MIN_RATIO, _MAX_RATIO, _DEDICATED_RATIO = 11, 12, 13

RcValue = bool | int | float | bytes | str


@dataclass(frozen=True)
class Guami:
    """Globally unique AMF identifier (PLMN + region 8 bits + set 10 bits + pointer 6 bits)."""

    plmn: bytes
    region: int = 1
    set_id: int = 1
    pointer: int = 0

    def to_asn(self) -> dict[str, Any]:
        """The asn1tools value."""
        if not (0 <= self.region < 256 and 0 <= self.set_id < 1024 and 0 <= self.pointer < 64):
            raise E2smError("Guami: region must fit 8 bits, set_id 10 bits, pointer 6 bits")
        return {"pLMNIdentity": self.plmn, "aMFRegionID": (bytes([self.region]), 8),
                "aMFSetID": ((self.set_id << 6).to_bytes(2, "big"), 10),
                "aMFPointer": (bytes([self.pointer << 2]), 6)}

    @classmethod
    def from_asn(cls, v: dict[str, Any]) -> Guami:
        """Parse the asn1tools value."""
        return cls(bytes(v["pLMNIdentity"]), v["aMFRegionID"][0][0],
                   int.from_bytes(v["aMFSetID"][0], "big") >> 6, v["aMFPointer"][0][0] >> 2)


@dataclass(frozen=True)
class GnbUeId:
    """A UE as a gNB knows it: AMF UE NGAP id + GUAMI (+ CU F1AP ids for split gNBs)."""

    amf_ue_ngap_id: int
    guami: Guami
    cu_f1ap_ids: tuple[int, ...] = ()
    ran_ue_id: bytes | None = None

    def to_asn(self) -> tuple[str, dict[str, Any]]:
        """The asn1tools value of the UEID CHOICE."""
        value: dict[str, Any] = {"amf-UE-NGAP-ID": self.amf_ue_ngap_id, "guami": self.guami.to_asn()}
        if self.cu_f1ap_ids:
            value["gNB-CU-UE-F1AP-ID-List"] = [{"gNB-CU-UE-F1AP-ID": i} for i in self.cu_f1ap_ids]
        if self.ran_ue_id is not None:
            value["ran-UEID"] = self.ran_ue_id
        return ("gNB-UEID", value)

    @classmethod
    def from_asn(cls, choice: tuple[str, Any]) -> GnbUeId:
        """Parse the UEID CHOICE (gNB alternative only)."""
        kind, v = choice
        if kind != "gNB-UEID":
            raise E2smError(f"UE identity {kind} is not supported (gNB-UEID and gNB-DU-UEID only)")
        ids = tuple(int(i["gNB-CU-UE-F1AP-ID"]) for i in v.get("gNB-CU-UE-F1AP-ID-List", []))
        ran = v.get("ran-UEID")
        return cls(int(v["amf-UE-NGAP-ID"]), Guami.from_asn(v["guami"]), ids, bytes(ran) if ran is not None else None)


@dataclass(frozen=True)
class GnbDuUeId:
    """A UE as a gNB-DU knows it: the CU's F1AP id (+ RAN UE id); what srsRAN's DU control uses."""

    cu_f1ap_id: int
    ran_ue_id: bytes | None = None

    def to_asn(self) -> tuple[str, dict[str, Any]]:
        """The asn1tools value of the UEID CHOICE."""
        value: dict[str, Any] = {"gNB-CU-UE-F1AP-ID": self.cu_f1ap_id}
        if self.ran_ue_id is not None:
            value["ran-UEID"] = self.ran_ue_id
        return ("gNB-DU-UEID", value)


def _only(item: tuple[RanParameter, ...], param_id: int) -> RanParameter:
    """The structure ``param_id`` that a list item consists of."""
    for p in item:
        if p.id == param_id:
            return p
    raise E2smError(f"list item without RAN parameter {param_id}")


def _ue_from_asn(choice: tuple[str, Any]) -> GnbUeId | GnbDuUeId:
    kind, v = choice
    if kind == "gNB-DU-UEID":
        ran = v.get("ran-UEID")
        return GnbDuUeId(int(v["gNB-CU-UE-F1AP-ID"]), bytes(ran) if ran is not None else None)
    return GnbUeId.from_asn(choice)


@dataclass(frozen=True)
class ControlHeader:
    """Control header format 1."""

    ue: GnbUeId | GnbDuUeId
    style: int
    action: int
    decision: str | None = None  # "accept" / "reject"


@dataclass(frozen=True)
class RanParameter:
    """One node of a RAN parameter tree: an element (``value``), a structure (``children``) or a list.

    ``items`` holds the structures of a list parameter. ``key`` marks an element that is a key
    (the "element true" alternative, which carries a mandatory value).
    """

    id: int
    value: RcValue | None = None
    children: tuple[RanParameter, ...] = ()
    items: tuple[tuple[RanParameter, ...], ...] = ()
    key: bool = False

    def child(self, param_id: int) -> RanParameter:
        """The child structure item ``param_id`` (raises :class:`E2smError` when absent)."""
        for c in self.children:
            if c.id == param_id:
                return c
        raise E2smError(f"RAN parameter {self.id} has no child {param_id}")


@dataclass(frozen=True)
class HandoverControl:
    """Style 3 / action 1: hand ``ue`` over to the NR cell ``target``."""

    ue: GnbUeId | GnbDuUeId
    target: NrCgi


@dataclass(frozen=True)
class SliceQuota:
    """One RRM policy of the slice-level PRB quota (style 2 / action 6): a slice and its PRB ratios (%).

    ``plmn`` is the 3-octet BCD PLMN identity, ``sd`` the 24-bit slice differentiator (``None``:
    SST only).
    """

    plmn: bytes
    sst: int
    sd: int | None = None
    min_ratio: int | None = None
    max_ratio: int | None = None
    dedicated_ratio: int | None = None


@dataclass(frozen=True)
class PolicyAction:
    """One policy of a policy subscription (action definition format 2).

    ``parameters`` is the RAN parameter tree the policy applies (as a control message would carry
    it), ``decision`` ``accept``/``reject`` or ``None``, ``conditions`` the condition under which it
    applies (an E2SM-RC RANParameter-Testing ASN.1 value) or ``None`` (always).
    """

    action_id: int
    parameters: tuple[RanParameter, ...] = ()
    decision: str | None = None
    conditions: Any = None


@dataclass(frozen=True)
class RcActionDefinition:
    """An E2SM-RC action definition: format 2 (``policies``) or 3 (insert: ``indication_id``, ``parameter_ids``)."""

    style: int
    format: int
    policies: tuple[PolicyAction, ...] = ()
    indication_id: int | None = None
    parameter_ids: tuple[int, ...] = ()
    ue: GnbUeId | GnbDuUeId | None = None
    raw: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ControlAction:
    """A control action an RC RAN function offers: id, name, its parameters ``(id, name)``."""

    id: int
    name: str
    parameters: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class ControlStyle:
    """A control style an RC RAN function offers."""

    style: int
    name: str
    actions: tuple[ControlAction, ...]
    header_format: int = 1
    message_format: int = 1
    outcome_format: int = 1


HANDOVER_STYLE = ControlStyle(MOBILITY_STYLE, "Connected Mode Mobility Control", (
    ControlAction(HANDOVER_ACTION, "Handover Control", ((_TARGET_PRIMARY_CELL, "Target Primary Cell ID"),
                                                        (_TARGET_CELL_CHOICE, "CHOICE Target Cell"),
                                                        (_NR_CELL, "NR Cell"), (_NR_CGI, "NR CGI"))),))


@dataclass(frozen=True)
class RcRanFunctionDefinition:
    """What an E2 node offers for RC (sent in E2 Setup): its control styles."""

    control_styles: tuple[ControlStyle, ...] = (HANDOVER_STYLE,)
    short_name: str = "ORAN-E2SM-RC"
    oid: str = RC_OID
    description: str = "RAN Control"
    instance: int | None = None

    def supports(self, style: int, action: int) -> bool:
        """Whether the function advertises control ``style`` / ``action``."""
        return any(s.style == style and any(a.id == action for a in s.actions) for s in self.control_styles)


def _value_to_asn(v: RcValue) -> tuple[str, Any]:
    if isinstance(v, bool):
        return ("valueBoolean", v)
    if isinstance(v, int):
        return ("valueInt", v)
    if isinstance(v, float):
        return ("valueReal", v)
    if isinstance(v, bytes):
        return ("valueOctS", v)
    if isinstance(v, str):
        return ("valuePrintableString", v)
    raise E2smError(f"RAN parameter value {v!r} has an unsupported type {type(v).__name__}")


def _value_from_asn(choice: tuple[str, Any]) -> RcValue:
    kind, v = choice
    if kind == "valueBitS":
        return bytes(v[0])
    if kind == "valueOctS":
        return bytes(v)
    return v  # type: ignore[no-any-return]


def _structure(children: tuple[RanParameter, ...]) -> dict[str, Any]:
    if not children:
        return {}
    return {"sequence-of-ranParameters": [{"ranParameter-ID": c.id, "ranParameter-valueType": _type_to_asn(c)}
                                          for c in children]}


def _type_to_asn(p: RanParameter) -> tuple[str, Any]:
    if p.items:
        return ("ranP-Choice-List", {"ranParameter-List": {"list-of-ranParameter": [_structure(i) for i in p.items]}})
    if p.children:
        return ("ranP-Choice-Structure", {"ranParameter-Structure": _structure(p.children)})
    if p.key:
        if p.value is None:
            raise E2smError(f"RAN parameter {p.id} is a key element and needs a value")
        return ("ranP-Choice-ElementTrue", {"ranParameter-value": _value_to_asn(p.value)})
    return ("ranP-Choice-ElementFalse", {} if p.value is None else {"ranParameter-value": _value_to_asn(p.value)})


def _children_from_asn(structure: dict[str, Any]) -> tuple[RanParameter, ...]:
    return tuple(_param_from_asn(int(i["ranParameter-ID"]), i["ranParameter-valueType"])
                 for i in structure.get("sequence-of-ranParameters", []))


def _param_from_asn(param_id: int, choice: tuple[str, Any]) -> RanParameter:
    kind, v = choice
    if kind == "ranP-Choice-List":
        items = tuple(_children_from_asn(s) for s in v["ranParameter-List"]["list-of-ranParameter"])
        return RanParameter(param_id, items=items)
    if kind == "ranP-Choice-Structure":
        return RanParameter(param_id, children=_children_from_asn(v["ranParameter-Structure"]))
    value = _value_from_asn(v["ranParameter-value"]) if "ranParameter-value" in v else None
    return RanParameter(param_id, value, key=kind == "ranP-Choice-ElementTrue")


class RcCodec(AsnCodec):
    """Encode/decode E2SM-RC messages (cheap to construct; compiles on first use)."""

    _filename = "rc.asn"

    # -- header -----------------------------------------------------------------------------
    def encode_control_header(self, header: ControlHeader) -> bytes:
        """Control header format 1."""
        fmt: dict[str, Any] = {"ueID": header.ue.to_asn(), "ric-Style-Type": header.style,
                               "ric-ControlAction-ID": header.action}
        if header.decision is not None:
            fmt["ric-ControlDecision"] = header.decision
        return self._encode("E2SM-RC-ControlHeader", {"ric-controlHeader-formats": ("controlHeader-Format1", fmt)})

    @parsing
    def decode_control_header(self, data: bytes) -> ControlHeader:
        """Parse a control header (format 1 only)."""
        kind, fmt = self._decode("E2SM-RC-ControlHeader", data)["ric-controlHeader-formats"]
        if kind != "controlHeader-Format1":
            raise E2smError(f"control header {kind} is not supported (format 1 only)")
        return ControlHeader(_ue_from_asn(fmt["ueID"]), int(fmt["ric-Style-Type"]),
                             int(fmt["ric-ControlAction-ID"]), fmt.get("ric-ControlDecision"))

    # -- message ----------------------------------------------------------------------------
    def encode_control_message(self, parameters: tuple[RanParameter, ...]) -> bytes:
        """Control message format 1: a list of top-level RAN parameters."""
        items = [{"ranParameter-ID": p.id, "ranParameter-valueType": _type_to_asn(p)} for p in parameters]
        return self._encode("E2SM-RC-ControlMessage",
                            {"ric-controlMessage-formats": ("controlMessage-Format1", {"ranP-List": items})})

    @parsing
    def decode_control_message(self, data: bytes) -> tuple[RanParameter, ...]:
        """Parse a control message (format 1 only) into its parameter tree."""
        kind, fmt = self._decode("E2SM-RC-ControlMessage", data)["ric-controlMessage-formats"]
        if kind != "controlMessage-Format1":
            raise E2smError(f"control message {kind} is not supported (format 1 only)")
        return tuple(_param_from_asn(int(i["ranParameter-ID"]), i["ranParameter-valueType"]) for i in fmt["ranP-List"])

    # -- handover ---------------------------------------------------------------------------
    def encode_handover(self, ho: HandoverControl) -> tuple[bytes, bytes]:
        """Header and message of a style 3 / action 1 handover command."""
        cgi = self._encode("NR-CGI", ho.target.to_asn())
        tree = RanParameter(_TARGET_PRIMARY_CELL, children=(
            RanParameter(_TARGET_CELL_CHOICE, children=(
                RanParameter(_NR_CELL, children=(RanParameter(_NR_CGI, cgi),)),)),))
        header = self.encode_control_header(ControlHeader(ho.ue, MOBILITY_STYLE, HANDOVER_ACTION))
        return header, self.encode_control_message((tree,))

    @parsing
    def decode_handover(self, header: bytes, message: bytes) -> HandoverControl:
        """Parse a handover command; raises :class:`E2smError` for any other style/action."""
        head = self.decode_control_header(header)
        if (head.style, head.action) != (MOBILITY_STYLE, HANDOVER_ACTION):
            raise E2smError(f"control style {head.style} action {head.action} is not a handover (style 3 action 1)")
        params = {p.id: p for p in self.decode_control_message(message)}
        if _TARGET_PRIMARY_CELL not in params:
            raise E2smError("handover message lacks RAN parameter 1 (Target Primary Cell ID)")
        element = params[_TARGET_PRIMARY_CELL].child(_TARGET_CELL_CHOICE).child(_NR_CELL).child(_NR_CGI)
        if not isinstance(element.value, bytes):
            raise E2smError("handover RAN parameter 4 (NR CGI) must carry an octet string")
        return HandoverControl(head.ue, NrCgi.from_asn(self._decode("NR-CGI", element.value)))

    # -- slice-level PRB quota ----------------------------------------------------------------
    def encode_slice_quota(self, ue: GnbUeId | GnbDuUeId, quotas: tuple[SliceQuota, ...]) -> tuple[bytes, bytes]:
        """Header and message of a style 2 / action 6 slice-level PRB quota (E2SM-RC 8.4.3.6 tree)."""
        if not quotas:
            raise E2smError("a slice-level PRB quota needs at least one SliceQuota")
        groups = []
        for q in quotas:
            for name, ratio in (("min_ratio", q.min_ratio), ("max_ratio", q.max_ratio),
                                ("dedicated_ratio", q.dedicated_ratio)):
                if ratio is not None and not 0 <= ratio <= 100:
                    raise E2smError(f"SliceQuota {name}={ratio}: a PRB ratio is a percentage, 0..100")
            nssai = [RanParameter(_SST, bytes([q.sst]))]
            if q.sd is not None:
                nssai.append(RanParameter(_SD, q.sd.to_bytes(3, "big")))
            member = RanParameter(_MEMBER, children=(RanParameter(_PLMN, q.plmn),
                                                     RanParameter(_S_NSSAI, children=tuple(nssai))))
            policy = RanParameter(_RRM_POLICY, children=(RanParameter(_MEMBER_LIST, items=((member,),)),))
            ratios = tuple(RanParameter(pid, r) for pid, r in ((_MIN_RATIO, q.min_ratio), (_MAX_RATIO, q.max_ratio),
                                                                 (_DEDICATED_RATIO, q.dedicated_ratio))
                           if r is not None)
            groups.append((RanParameter(_RATIO_GROUP, children=(policy, *ratios)),))
        header = self.encode_control_header(ControlHeader(ue, RADIO_RESOURCE_STYLE, SLICE_QUOTA_ACTION))
        return header, self.encode_control_message((RanParameter(_RATIO_LIST, items=tuple(groups)),))

    @parsing
    def decode_slice_quota(self, header: bytes, message: bytes) -> tuple[GnbUeId | GnbDuUeId, tuple[SliceQuota, ...]]:
        """Parse a slice-level PRB quota; raises :class:`E2smError` for any other style/action."""
        head = self.decode_control_header(header)
        if (head.style, head.action) != (RADIO_RESOURCE_STYLE, SLICE_QUOTA_ACTION):
            raise E2smError(f"control style {head.style} action {head.action} is not a slice-level PRB quota "
                            "(style 2 action 6)")
        params = {p.id: p for p in self.decode_control_message(message)}
        if _RATIO_LIST not in params:
            raise E2smError("slice quota message lacks RAN parameter 1 (RRM Policy Ratio List)")
        quotas = []
        for item in params[_RATIO_LIST].items:
            by_id = {p.id: p for p in _only(item, _RATIO_GROUP).children}
            ratios = {pid: by_id[pid].value if pid in by_id else None for pid in (_MIN_RATIO, _MAX_RATIO,
                                                                                   _DEDICATED_RATIO)}
            for member in by_id[_RRM_POLICY].child(_MEMBER_LIST).items:
                fields = {p.id: p for p in _only(member, _MEMBER).children}
                nssai = {p.id: p.value for p in fields[_S_NSSAI].children}
                plmn, sst, sd = fields[_PLMN].value, nssai.get(_SST), nssai.get(_SD)
                if not isinstance(plmn, bytes) or not isinstance(sst, bytes) or not isinstance(sd, bytes | None):
                    raise E2smError("slice quota: PLMN, SST and SD must be octet strings")
                quotas.append(SliceQuota(plmn, sst[0], int.from_bytes(sd, "big") if sd is not None else None,
                                         *(int(v) if isinstance(v, int) else None for v in ratios.values())))
        return head.ue, tuple(quotas)

    # -- policy and insert subscriptions --------------------------------------------------------
    def encode_action_definition(self, action: RcActionDefinition) -> bytes:
        """Action definition format 2 (policy) or 3 (insert); a decoded, unchanged one gives its own bytes."""
        if action.raw is not None and self._action_from(action.raw) == action:
            return self._encode("E2SM-RC-ActionDefinition", action.raw)
        fmt: dict[str, Any]
        if action.format == 2:
            if not action.policies:
                raise E2smError("a policy action definition (format 2) needs at least one PolicyAction")
            items = []
            for policy in action.policies:
                body: dict[str, Any] = {"ric-PolicyAction-ID": policy.action_id}
                if policy.parameters:
                    body["ranParameters-List"] = [{"ranParameter-ID": p.id, "ranParameter-valueType": _type_to_asn(p)}
                                                  for p in policy.parameters]
                if policy.decision is not None:
                    body["ric-PolicyDecision"] = policy.decision
                item: dict[str, Any] = {"ric-PolicyAction": body}
                if policy.conditions is not None:
                    item["ric-PolicyConditionDefinition"] = policy.conditions
                items.append(item)
            fmt = {"ric-PolicyConditions-List": items}
        elif action.format == 3:
            if action.indication_id is None or not action.parameter_ids:
                raise E2smError("an insert action definition (format 3) needs indication_id and parameter_ids")
            fmt = {"ric-InsertIndication-ID": action.indication_id,
                   "ranP-InsertIndication-List": [{"ranParameter-ID": i} for i in action.parameter_ids]}
            if action.ue is not None:
                fmt["ueID"] = action.ue.to_asn()
        else:
            raise E2smError(f"RC action definition format {action.format}: ranml writes formats 2 (policy) "
                            "and 3 (insert)")
        return self._encode("E2SM-RC-ActionDefinition", {
            "ric-Style-Type": action.style,
            "ric-actionDefinition-formats": (f"actionDefinition-Format{action.format}", fmt)})

    def _action_from(self, value: dict[str, Any]) -> RcActionDefinition:
        kind, fmt = value["ric-actionDefinition-formats"]
        style = int(value["ric-Style-Type"])
        if kind == "actionDefinition-Format2":
            policies = []
            for item in fmt["ric-PolicyConditions-List"]:
                body = item["ric-PolicyAction"]
                params = tuple(_param_from_asn(int(p["ranParameter-ID"]), p["ranParameter-valueType"])
                               for p in body.get("ranParameters-List", []))
                policies.append(PolicyAction(int(body["ric-PolicyAction-ID"]), params, body.get("ric-PolicyDecision"),
                                             item.get("ric-PolicyConditionDefinition")))
            return RcActionDefinition(style, 2, tuple(policies))
        if kind == "actionDefinition-Format3":
            ue = _ue_from_asn(fmt["ueID"]) if "ueID" in fmt else None
            return RcActionDefinition(style, 3, indication_id=int(fmt["ric-InsertIndication-ID"]),
                                      parameter_ids=tuple(int(i["ranParameter-ID"])
                                                          for i in fmt["ranP-InsertIndication-List"]), ue=ue)
        raise E2smError(f"RC action definition {kind} is not supported (formats 2 and 3)")

    @parsing
    def decode_action_definition(self, data: bytes) -> RcActionDefinition:
        """Parse a policy (format 2) or insert (format 3) action definition."""
        value = self._decode("E2SM-RC-ActionDefinition", data)
        return replace(self._action_from(value), raw=value)

    def slice_quota_policy(self, quotas: tuple[SliceQuota, ...], style: int = RADIO_RESOURCE_STYLE,
                           conditions: Any = None) -> RcActionDefinition:
        """A policy that keeps the slice-level PRB quota (action 6) in force: the control's parameter tree."""
        _, message = self.encode_slice_quota(GnbDuUeId(0), quotas)
        return RcActionDefinition(style, 2, (PolicyAction(SLICE_QUOTA_ACTION, self.decode_control_message(message),
                                                          conditions=conditions),))

    # -- RAN function definition ------------------------------------------------------------
    def encode_ran_function(self, ran: RcRanFunctionDefinition) -> bytes:
        """RAN function definition with the control styles."""
        name: dict[str, Any] = {"ranFunction-ShortName": ran.short_name, "ranFunction-E2SM-OID": ran.oid,
                                "ranFunction-Description": ran.description}
        if ran.instance is not None:
            name["ranFunction-Instance"] = ran.instance
        styles = []
        for s in ran.control_styles:
            actions = []
            for a in s.actions:
                item: dict[str, Any] = {"ric-ControlAction-ID": a.id, "ric-ControlAction-Name": a.name}
                if a.parameters:
                    item["ran-ControlActionParameters-List"] = [{"ranParameter-ID": i, "ranParameter-name": n}
                                                                for i, n in a.parameters]
                actions.append(item)
            style: dict[str, Any] = {"ric-ControlStyle-Type": s.style, "ric-ControlStyle-Name": s.name,
                                     "ric-ControlHeaderFormat-Type": s.header_format,
                                     "ric-ControlMessageFormat-Type": s.message_format,
                                     "ric-ControlOutcomeFormat-Type": s.outcome_format}
            if actions:
                style["ric-ControlAction-List"] = actions
            styles.append(style)
        value: dict[str, Any] = {"ranFunction-Name": name}
        if styles:
            value["ranFunctionDefinition-Control"] = {"ric-ControlStyle-List": styles}
        return self._encode("E2SM-RC-RANFunctionDefinition", value)

    @parsing
    def decode_ran_function(self, data: bytes) -> RcRanFunctionDefinition:
        """Parse an RC RAN function definition (name and control styles)."""
        value = self._decode("E2SM-RC-RANFunctionDefinition", data)
        name = value["ranFunction-Name"]
        styles = []
        for s in value.get("ranFunctionDefinition-Control", {}).get("ric-ControlStyle-List", []):
            actions = tuple(ControlAction(int(a["ric-ControlAction-ID"]), str(a["ric-ControlAction-Name"]),
                                          tuple((int(p["ranParameter-ID"]), str(p["ranParameter-name"]))
                                                for p in a.get("ran-ControlActionParameters-List", [])))
                            for a in s.get("ric-ControlAction-List", []))
            styles.append(ControlStyle(int(s["ric-ControlStyle-Type"]), str(s["ric-ControlStyle-Name"]), actions,
                                       int(s["ric-ControlHeaderFormat-Type"]), int(s["ric-ControlMessageFormat-Type"]),
                                       int(s["ric-ControlOutcomeFormat-Type"])))
        return RcRanFunctionDefinition(tuple(styles), str(name["ranFunction-ShortName"]),
                                       str(name["ranFunction-E2SM-OID"]), str(name["ranFunction-Description"]),
                                       name.get("ranFunction-Instance"))
