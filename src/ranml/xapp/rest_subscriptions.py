"""Subscribing through the OSC subscription manager (REST mode) instead of sending E2 requests directly.

The manager answers the request at once and sends the E2 instance ids later, in a notification
to ``POST /ric/v1/subscriptions/response``; only then do indications map to the requested cells.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ranml.protocols.e2sm import NrCgi
from ranml.xapp.context import NodeInfo
from ranml.xapp.indications import IndicationDecoder
from ranml.xapp.subscriptions import SubmgrClient, SubscriptionError

__all__ = ["RestSubscriptions"]

log = logging.getLogger("ranml.xapp.rest_subscriptions")


class RestSubscriptions:
    """The xApp's subscriptions held by the subscription manager at ``url``."""

    def __init__(self, url: str, client_host: str, http_port: int, rmr_port: int, decoder: IndicationDecoder) -> None:
        self.client = SubmgrClient(url, client_host, http_port, rmr_port)
        self.decoder = decoder
        self._requested: dict[int, tuple[str, dict[int, NrCgi | None]]] = {}  # XappEventInstanceId -> node, cells
        self.ids: list[str] = []

    async def subscribe(self, nodes: list[NodeInfo]) -> None:
        """Ask the manager for every node's KPM subscriptions (failures are logged, the others go on)."""
        for node in nodes:
            for spec, cells in self.decoder.specs(node):
                body = self.client.params(spec)
                event_id = body["SubscriptionDetails"][0]["XappEventInstanceId"]
                try:
                    self.ids.append(await self.client.subscribe_params(body))
                except SubscriptionError as exc:
                    log.warning("%s", exc)
                    continue
                self._requested[event_id] = (node.meid, cells)

    def notification(self, body: bytes) -> tuple[int, Any]:
        """The manager's answer: map E2 instance ids to the requested actions (HTTP status, body)."""
        try:
            data = json.loads(body)
            instances = data.get("SubscriptionInstances") or []
        except (ValueError, AttributeError):
            return 400, {"error": "expected the subscription manager's JSON notification"}
        for inst in instances:
            known = self._requested.get(int(inst.get("XappEventInstanceId", -1)))
            if known is None or inst.get("ErrorCause"):
                log.warning("subscription notification not usable: %s", inst)
                continue
            meid, cells = known
            self.decoder.watch(meid, int(inst["E2EventInstanceId"]), cells)
        return 200, {}

    async def delete_all(self) -> int:
        """Delete every subscription made; returns how many were deleted."""
        deleted = 0
        for sub_id in self.ids:
            try:
                await self.client.delete(sub_id)
                deleted += 1
            except SubscriptionError as exc:
                log.info("%s", exc)
        return deleted
