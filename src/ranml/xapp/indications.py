"""E2 indications -> :class:`~ranml.xapp.app.CellReport`: the cell each action watches, the KPM version of each node."""

from __future__ import annotations

import logging
import time

from ranml.errors import RanmlError
from ranml.protocols import e2ap
from ranml.protocols.e2sm import ActionDefinition, E2smError, KpmCodec, NrCgi, detect_version
from ranml.protocols.rmr import RmrMessage
from ranml.xapp.app import CellReport, KpmRequest
from ranml.xapp.context import NodeInfo
from ranml.xapp.subscriptions import E2Subscriptions, SubscriptionSpec

__all__ = ["IndicationDecoder", "MalformedIndicationError"]

log = logging.getLogger("ranml.xapp.indications")


class MalformedIndicationError(RanmlError):
    """An indication that does not decode; ``layer`` is ``e2ap`` or ``e2sm`` (counted by the runner, never further)."""

    def __init__(self, layer: str) -> None:
        super().__init__(layer)
        self.layer = layer


class IndicationDecoder:
    """Build the KPM subscriptions of the app's requests, and decode what the nodes send back.

    Parameters
    ----------
    requests
        The app's KPM requests (after any period override).
    kpm_version
        The E2SM-KPM version subscriptions are written in; a node whose first indication header
        is in the other version is decoded in that one from then on.
    """

    def __init__(self, requests: list[KpmRequest], kpm_version: int) -> None:
        self.requests = requests
        self.kpm_version = kpm_version
        self._kpm = KpmCodec(kpm_version)
        self._by_node: dict[str, KpmCodec] = {}
        self._actions: dict[tuple[str, int, int], NrCgi | None] = {}

    def specs(self, node: NodeInfo) -> list[tuple[SubscriptionSpec, dict[int, NrCgi | None]]]:
        """One subscription per request for ``node``: one action per cell (or one node-level action)."""
        out = []
        for req in self.requests:
            cells: list[NrCgi | None] = list(node.cells) if req.per_cell and node.cells else [None]
            actions = tuple((i + 1, self._kpm.encode_action_definition(
                ActionDefinition(req.measurements, req.granularity_ms, cell=c))) for i, c in enumerate(cells))
            spec = SubscriptionSpec(node.meid, node.functions.get("kpm", 2), self._kpm.encode_event_trigger(
                req.period_ms), actions, req.period_ms / 1000.0)
            out.append((spec, {i + 1: c for i, c in enumerate(cells)}))
        return out

    def watch(self, meid: str, instance_id: int, cells: dict[int, NrCgi | None]) -> None:
        """The actions of subscription ``instance_id`` on ``meid`` watch ``cells`` (action id -> cell)."""
        for action, cell in cells.items():
            self._actions[(meid, instance_id, action)] = cell

    def decode(self, msg: RmrMessage, subscriptions: E2Subscriptions) -> CellReport | None:
        """The report in ``msg``, or ``None`` for an indication of no subscription of ours.

        Raises
        ------
        MalformedIndicationError
            The E2AP or the E2SM-KPM part does not decode.
        """
        try:
            ind = e2ap.decode(msg.payload)
        except e2ap.E2apError:
            raise MalformedIndicationError("e2ap") from None
        if not isinstance(ind, e2ap.Indication):
            raise MalformedIndicationError("e2ap")
        subscriptions.on_report(ind.instance_id)
        key = (msg.meid, ind.instance_id, ind.action_id)
        if key not in self._actions:
            sub = subscriptions.active.get(ind.instance_id)
            if sub is None or sub.spec.meid != msg.meid:
                log.debug("indication for unknown subscription %s", key)
                return None
            self._actions[key] = None
        try:
            kpm = self._codec_of(msg.meid, ind.header)
            header = kpm.decode_indication_header(ind.header)
            body = kpm.decode_indication_message(ind.message)
        except E2smError:
            raise MalformedIndicationError("e2sm") from None
        gran = (body.granularity_ms or 0) / 1000.0
        return CellReport(msg.meid, self._actions[key], header.collect_start, gran, body.measurements, body.records,
                          time.time())

    def _codec_of(self, meid: str, header: bytes) -> KpmCodec:
        """The KPM codec for ``meid``: the configured version, or the other one if its first header says so."""
        codec = self._by_node.get(meid)
        if codec is None:
            version = detect_version(header, self.kpm_version)
            if version != self.kpm_version:
                log.info("%s reports in E2SM-KPM v%d (configured v%d): decoding its reports as v%d", meid, version,
                         self.kpm_version, version)
            codec = self._kpm if version == self._kpm.version else KpmCodec(version)
            self._by_node[meid] = codec
        return codec
