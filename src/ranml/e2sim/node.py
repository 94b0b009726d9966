"""One simulated E2 node (gNB): RAN functions, subscriptions with their own periods, controls.

The node speaks typed E2AP values (``ranml.protocols.e2ap``); the simulator moves bytes. RAN
function ids follow common deployments: KPM 2, RC 3, CCC 4.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ranml.e2sim.network import MEASUREMENTS, Network
from ranml.e2sim.scenario import NodeSpec
from ranml.protocols import e2ap
from ranml.protocols.e2sm import (
    CCC_OID,
    KPM_OID,
    RC_OID,
    CccCodec,
    E2smError,
    IndicationHeader,
    IndicationMessage,
    KpmCodec,
    NrCgi,
    RanFunctionDefinition,
    RcCodec,
    RcRanFunctionDefinition,
    enumerated_ue_cell,
)

__all__ = ["CCC_FUNCTION", "KPM_FUNCTION", "RC_FUNCTION", "E2Node", "KpmAction", "KpmSubscription", "NodeCounters"]

log = logging.getLogger("ranml.e2sim.node")

KPM_FUNCTION, RC_FUNCTION, CCC_FUNCTION = 2, 3, 4
Cause = tuple[str, str]


@dataclass
class KpmAction:
    """One admitted report action: which cell (``None``: the whole node), what, how finely."""

    action_id: int
    cell: int | None
    measurements: tuple[str, ...]
    granularity_s: float
    next_bucket_s: float
    columns: list[int]  # the cells the action reads (one, or all of the node's)
    snapshot: np.ndarray  # integrals of those cells when the current granularity period began
    records: list[tuple[int | float | None, ...]] = field(default_factory=list)


@dataclass
class KpmSubscription:
    """One admitted KPM subscription with its own reporting period."""

    requestor_id: int
    instance_id: int
    period_s: float
    next_report_s: float
    actions: list[KpmAction]
    reply_to: str
    sn: int = 0


@dataclass
class NodeCounters:
    """Per-node E2 counters (in the summary and the ground-truth API)."""

    setups: int = 0
    restarts: int = 0
    subscriptions: int = 0
    subscription_failures: int = 0
    deletes: int = 0
    indications: int = 0
    controls_ok: int = 0
    controls_failed: int = 0
    malformed_e2sm: int = 0


class E2Node:
    """A gNB with ``cells`` (indices into ``network``)."""

    def __init__(self, spec: NodeSpec, cells: list[int], network: Network, plmn: bytes,
                 cgis: dict[NrCgi, int], kpm_version: int = 3) -> None:
        self.spec = spec
        self.name = spec.name
        self.cells = cells
        self.network = network
        self.plmn = plmn
        self.cgis = cgis
        self._cgi_of = {i: cgi for cgi, i in cgis.items()}
        self.kpm = KpmCodec(kpm_version)
        self.rc = RcCodec()
        self.ccc = CccCodec()
        self.up = True
        self.setup_done = False
        self.transaction_id = 0
        self.subscriptions: dict[tuple[int, int], KpmSubscription] = {}
        self.counters = NodeCounters()
        # KPM sender names are PrintableString: no '_' (RAN names often have one)
        self.sender_name = "".join(ch if ch.isalnum() or ch in " '()+,-./:=?" else "-" for ch in self.name)

    def cell_cgi(self, index: int) -> NrCgi:
        """The NR CGI of one of the network's cells."""
        return self._cgi_of[index]

    # -- E2 setup -----------------------------------------------------------------------------
    def ran_functions(self) -> tuple[tuple[int, bytes, int, str], ...]:
        """(id, definition, revision, OID) of the node's RAN functions: KPM, RC, CCC."""
        kpm = self.kpm.encode_ran_function(RanFunctionDefinition(tuple(MEASUREMENTS)))
        rc = self.rc.encode_ran_function(RcRanFunctionDefinition())
        ccc = self.ccc.encode_ran_function(tuple(self.cell_cgi(c) for c in self.cells))
        return ((KPM_FUNCTION, kpm, 1, KPM_OID), (RC_FUNCTION, rc, 1, RC_OID), (CCC_FUNCTION, ccc, 1, CCC_OID))

    def setup_request(self) -> e2ap.E2SetupRequest:
        """A new E2 Setup Request (new transaction id)."""
        self.transaction_id = (self.transaction_id + 1) % 256
        self.counters.setups += 1
        return e2ap.E2SetupRequest(self.transaction_id, self.plmn, self.spec.gnb_id, self.ran_functions())

    def restart(self) -> None:
        """Go down: every subscription is lost, as on a real node."""
        self.up = False
        self.setup_done = False
        self.subscriptions.clear()
        self.counters.restarts += 1

    # -- subscriptions ------------------------------------------------------------------------
    def subscribe(self, req: e2ap.SubscriptionRequest, reply_to: str, now_s: float,
                  tick_s: float) -> e2ap.SubscriptionResponse | e2ap.SubscriptionFailure:
        """Admit a KPM subscription (or refuse it with a cause)."""

        def fail(cause: Cause, why: str) -> e2ap.SubscriptionFailure:
            self.counters.subscription_failures += 1
            log.info("%s: subscription %d/%d refused: %s", self.name, req.requestor_id, req.instance_id, why)
            return e2ap.SubscriptionFailure(req.requestor_id, req.instance_id, req.ran_function_id, cause)

        if not self.up:
            return fail(("ricRequest", "system-not-ready"), "node is down")
        if req.ran_function_id != KPM_FUNCTION:
            return fail(("ricRequest", "ran-function-id-invalid"),
                        f"RAN function {req.ran_function_id} reports nothing")
        if (req.requestor_id, req.instance_id) in self.subscriptions:
            return fail(("ricRequest", "duplicate-ric-request-id"), "request id already in use")
        try:
            period_ms = self.kpm.decode_event_trigger(req.event_trigger)
        except E2smError as exc:
            self.counters.malformed_e2sm += 1
            return fail(("ricRequest", "eventTriggerNotSupported"), str(exc))
        period_s = period_ms / 1000.0
        admitted, refused, actions = [], [], []
        for action_id, definition in req.actions:
            action = self._action(action_id, definition, period_s, now_s, tick_s)
            if action is None:
                refused.append(action_id)
            else:
                admitted.append(action_id)
                actions.append(action)
        if not actions:
            return fail(("ricRequest", "action-not-supported"), "no action could be admitted")
        self.subscriptions[(req.requestor_id, req.instance_id)] = KpmSubscription(
            req.requestor_id, req.instance_id, period_s, now_s + period_s, actions, reply_to)
        self.counters.subscriptions += 1
        log.info("%s: subscription %d/%d every %.3gs, actions %s", self.name, req.requestor_id, req.instance_id,
                 period_s, admitted)
        return e2ap.SubscriptionResponse(req.requestor_id, req.instance_id, req.ran_function_id,
                                         tuple(admitted), tuple(refused))

    def _action(self, action_id: int, definition: bytes | None, period_s: float, now_s: float,
                tick_s: float) -> KpmAction | None:
        if definition is None:
            return None
        try:
            action = self.kpm.decode_action_definition(definition)
        except E2smError as exc:
            self.counters.malformed_e2sm += 1
            log.info("%s: action %d: %s", self.name, action_id, exc)
            return None
        unknown = [m for m in action.measurements if m not in MEASUREMENTS]
        gran_s = action.granularity_ms / 1000.0
        cell = None
        if action.cell is not None:
            cell = self.cgis.get(action.cell)
            if cell is None or cell not in self.cells:
                log.info("%s: action %d names cell %s, which is not on this node", self.name, action_id,
                         action.cell.text())
                return None
        steps = gran_s / tick_s
        if unknown or gran_s > period_s or abs(steps - round(steps)) > 1e-9 or steps < 1:
            log.info("%s: action %d not admitted (unknown measurements %s, granularity %.3gs, period %.3gs, "
                     "tick %.3gs)", self.name, action_id, unknown, gran_s, period_s, tick_s)
            return None
        columns = self.cells if cell is None else [cell]
        return KpmAction(action_id, cell, action.measurements, gran_s, now_s + gran_s, columns,
                         self.network.integral[:, columns])

    def delete(self, req: e2ap.SubscriptionDeleteRequest) -> e2ap.SubscriptionDeleteResponse | e2ap.ErrorIndication:
        """Delete a subscription."""
        if self.subscriptions.pop((req.requestor_id, req.instance_id), None) is None:
            return e2ap.ErrorIndication(None, req.requestor_id, req.instance_id, req.ran_function_id,
                                        ("ricRequest", "request-id-unknown"))
        self.counters.deletes += 1
        return e2ap.SubscriptionDeleteResponse(req.requestor_id, req.instance_id, req.ran_function_id)

    # -- reports ------------------------------------------------------------------------------
    def _record(self, action: KpmAction) -> tuple[int | float | None, ...]:
        delta = (self.network.integral[:, action.columns] - action.snapshot) / action.granularity_s
        values: list[int | float | None] = []
        for name in action.measurements:
            m = MEASUREMENTS[name]
            row = delta[m.row]
            v = float(row.sum() if m.node_sum or action.cell is not None else row.mean())
            if m.per_period:
                v *= action.granularity_s
            v *= m.scale
            values.append(min(max(round(v), 0), 4294967295) if m.integer else v)
        return tuple(values)

    def reports(self, now_s: float, epoch_s: float) -> list[tuple[KpmSubscription, e2ap.Indication]]:
        """Close finished granularity periods; return the indications due at ``now_s`` (simulated)."""
        out = []
        for sub in self.subscriptions.values():
            for action in sub.actions:
                while action.next_bucket_s <= now_s + 1e-9:
                    action.records.append(self._record(action))
                    action.snapshot = self.network.integral[:, action.columns]  # fancy indexing: a copy
                    action.next_bucket_s += action.granularity_s
            if sub.next_report_s > now_s + 1e-9:
                continue
            start = epoch_s + sub.next_report_s - sub.period_s
            header = self.kpm.encode_indication_header(
                IndicationHeader(start, sender_name=self.sender_name, sender_type="gNB", vendor_name="ranml"))
            sub.next_report_s += sub.period_s
            for action in sub.actions:
                if not action.records:
                    continue
                message = self.kpm.encode_indication_message(IndicationMessage(
                    tuple(action.records), action.measurements, round(action.granularity_s * 1000)))
                action.records.clear()
                out.append((sub, e2ap.Indication(sub.requestor_id, sub.instance_id, KPM_FUNCTION, action.action_id,
                                                 header, message, sub.sn, "report")))
                sub.sn = (sub.sn + 1) % 65536
                self.counters.indications += 1
        return out

    # -- controls -----------------------------------------------------------------------------
    def control(self, req: e2ap.ControlRequest) -> e2ap.ControlAck | e2ap.ControlFailure:
        """Apply a handover (RC) or cell on/off (CCC) control; ack or fail with a cause."""
        cause, why = self._apply(req)
        base = (req.requestor_id, req.instance_id, req.ran_function_id)
        if cause is None:
            self.counters.controls_ok += 1
            return e2ap.ControlAck(*base)
        self.counters.controls_failed += 1
        log.info("%s: control from %d/%d failed: %s", self.name, req.requestor_id, req.instance_id, why)
        return e2ap.ControlFailure(*base, cause=cause)

    def _apply(self, req: e2ap.ControlRequest) -> tuple[Cause | None, str]:
        if not self.up:
            return ("ricRequest", "system-not-ready"), "node is down"
        try:
            if req.ran_function_id == RC_FUNCTION:
                ho = self.rc.decode_handover(req.header, req.message)
                source = self._ue_cell(ho.ue.amf_ue_ngap_id)
                if source is None:
                    return ("ricRequest", "control-message-invalid"), f"UE {ho.ue.amf_ue_ngap_id} is not on {self.name}"
                target = self.cgis.get(ho.target)
                if target is None:
                    return ("ricRequest", "control-message-invalid"), f"unknown target cell {ho.target.text()}"
                reason = self.network.handover(source, target)
                return (None, "") if reason is None else (("ricRequest", "control-failed-to-execute"), reason)
            if req.ran_function_id == CCC_FUNCTION:
                control = self.ccc.decode_control(req.header, req.message)
                indices = [self.cgis.get(s.cell) for s in control.cells]
                if any(i is None or i not in self.cells for i in indices):
                    return ("ricRequest", "control-message-invalid"), "a cell in the control is not on this node"
                for switch, index in zip(control.cells, indices, strict=True):
                    assert index is not None
                    self.network.switch(index, switch.sleep)
                return None, ""
        except E2smError as exc:
            self.counters.malformed_e2sm += 1
            return ("ricRequest", "control-message-invalid"), str(exc)
        return ("ricRequest", "ran-function-id-invalid"), f"RAN function {req.ran_function_id} takes no control"

    def _ue_cell(self, ue_id: int) -> int | None:
        """The cell of this node serving a UE id (enumerated-UE convention), if that UE is connected."""
        gnb, local, k = enumerated_ue_cell(ue_id)
        for c in self.cells:
            nci = self.cell_cgi(c).cell_id
            if nci >> 14 == gnb and nci & 0x3FFF == local:
                return c if self.network.connected(c, k) else None
        return None

    def state(self) -> dict[str, object]:
        """JSON-ready node state."""
        return {"name": self.name, "up": self.up, "setup_done": self.setup_done,
                "active_subscriptions": [{"requestor_id": s.requestor_id, "instance_id": s.instance_id,
                                   "period_s": s.period_s, "actions": [a.action_id for a in s.actions]}
                                  for s in self.subscriptions.values()],
                "cells": [self.network.cells[c].name for c in self.cells], **self.counters.__dict__}
