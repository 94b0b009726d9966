"""A small A1 mediator stand-in: A1-P v2 over REST in, A1 policy messages over RMR to the xApps.

It sits with e2sim's other RIC stand-ins (E2 termination, subscription manager) so that rApp →
A1 → xApp flows run on one machine. The REST side follows the OSC A1 mediator's A1-P v2 paths:

* ``GET /A1-P/v2/healthcheck``
* ``GET /A1-P/v2/policytypes`` · ``PUT|GET|DELETE /A1-P/v2/policytypes/{type}``
* ``GET /A1-P/v2/policytypes/{type}/policies``
* ``PUT|GET|DELETE /A1-P/v2/policytypes/{type}/policies/{id}`` (the instance is checked
  against the type's ``create_schema``; 202 Accepted)
* ``GET /A1-P/v2/policytypes/{type}/policies/{id}/status`` →
  ``{"instance_status": "IN EFFECT" | "NOT IN EFFECT", "has_been_deleted", "created_at",
  "handlers": {xapp: status}}``

On the RMR side every create/update/delete goes out as ``A1_POLICY_REQ`` (20010, sub id = policy
type) by the route table, or to every xApp seen on RMR when there is no route; ``A1_POLICY_RESP``
(20011) answers set the instance status; ``A1_POLICY_QUERY`` (20012) from an xApp that starts
re-sends the type's instances to it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ranml.protocols.rmr import MTYPES, RmrMessage

__all__ = ["A1Mediator"]

log = logging.getLogger("ranml.e2sim.a1")

A1_REQ, A1_RESP, A1_QUERY = MTYPES["A1_POLICY_REQ"], MTYPES["A1_POLICY_RESP"], MTYPES["A1_POLICY_QUERY"]
PREFIX = "/A1-P/v2"

Sender = Callable[[RmrMessage], Awaitable[int]]
DirectSender = Callable[[str, RmrMessage], Awaitable[None]]


@dataclass
class _Instance:
    payload: dict[str, Any]
    created_at: float
    handlers: dict[str, str] = field(default_factory=dict)  # xApp -> OK / ERROR / DELETED
    deleted: bool = False


class A1Mediator:
    """Policy types and instances, their REST API, and their RMR delivery.

    Parameters
    ----------
    send
        Route-based RMR send (returns the copies sent; raises when there is no route).
    send_to
        Direct RMR send to an endpoint ``host:port``.
    peers
        Returns the RMR endpoints of the xApps seen so far (used when no route exists).
    """

    def __init__(self, send: Sender, send_to: DirectSender, peers: Callable[[], set[str]]) -> None:
        self._send, self._send_to, self._peers = send, send_to, peers
        self.types: dict[int, dict[str, Any]] = {}
        self.instances: dict[int, dict[str, _Instance]] = {}
        self.counters = {"requests_sent": 0, "responses": 0, "queries": 0, "malformed": 0, "undeliverable": 0}

    # -- RMR --------------------------------------------------------------------------------------
    async def _deliver(self, type_id: int, instance_id: str, operation: str, payload: dict[str, Any],
                       only: str | None = None) -> None:
        body = json.dumps({"operation": operation, "policy_type_id": type_id, "policy_instance_id": instance_id,
                           "payload": payload}).encode()
        msg = RmrMessage(A1_REQ, body, sub_id=type_id)
        if only is not None:
            await self._send_to(only, msg)
            self.counters["requests_sent"] += 1
            return
        try:
            self.counters["requests_sent"] += await self._send(msg)
            return
        except Exception as exc:  # no route: fall back to every xApp seen on RMR
            log.debug("A1 %d/%s: %s; sending to known xApps", type_id, instance_id, exc)
        peers = sorted(self._peers())
        if not peers:
            self.counters["undeliverable"] += 1
            log.warning("A1 policy %d/%s: no route for 20010 and no xApp seen yet", type_id, instance_id)
        for peer in peers:
            try:
                await self._send_to(peer, RmrMessage(A1_REQ, body, sub_id=type_id))
                self.counters["requests_sent"] += 1
            except Exception as exc:
                log.info("A1 policy %d/%s to %s failed: %s", type_id, instance_id, peer, exc)

    async def handle_rmr(self, msg: RmrMessage) -> bool:
        """Take a 20011 answer or a 20012 query; ``False`` for other message types."""
        if msg.mtype not in (A1_RESP, A1_QUERY):
            return False
        try:
            body = json.loads(msg.payload)
            type_id = int(body["policy_type_id"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            self.counters["malformed"] += 1
            log.info("malformed A1 message type %d from %s", msg.mtype, msg.src)
            return True
        if msg.mtype == A1_QUERY:
            self.counters["queries"] += 1
            for instance_id, inst in self.instances.get(type_id, {}).items():
                if not inst.deleted and msg.src:
                    await self._deliver(type_id, instance_id, "CREATE", inst.payload, only=msg.src)
            return True
        self.counters["responses"] += 1
        answered = self.instances.get(type_id, {}).get(str(body.get("policy_instance_id")))
        if answered is None:
            return True
        inst = answered
        handler, status = str(body.get("handler_id") or msg.src), str(body.get("status", "ERROR")).upper()
        inst.handlers[handler] = status
        if inst.deleted and all(v == "DELETED" for v in inst.handlers.values()):
            self.instances[type_id].pop(str(body.get("policy_instance_id")), None)
        return True

    # -- REST -------------------------------------------------------------------------------------
    async def http(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """The A1-P v2 REST API (a :class:`~ranml.host.http.TinyHttpServer` handler)."""
        if not path.startswith(PREFIX):
            return 404, {"error": f"unknown path {path}; the A1-P v2 API is under {PREFIX}"}
        parts = [p for p in path[len(PREFIX):].split("/") if p]
        if parts == ["healthcheck"]:
            return 200, {"status": "OK"}
        if not parts or parts[0] != "policytypes":
            return 404, {"error": f"unknown path {path}"}
        if len(parts) == 1:
            return (200, sorted(self.types)) if method == "GET" else (405, {"error": "use GET"})
        try:
            type_id = int(parts[1])
        except ValueError:
            return 400, {"error": f"policy type id {parts[1]!r} is not an integer"}
        if len(parts) == 2:
            return self._type(method, type_id, body)
        if parts[2] != "policies":
            return 404, {"error": f"unknown path {path}"}
        if type_id not in self.types:
            return 404, {"error": f"no policy type {type_id}; PUT {PREFIX}/policytypes/{type_id} first"}
        if len(parts) == 3:
            return 200, sorted(k for k, v in self.instances.get(type_id, {}).items() if not v.deleted)
        instance_id = parts[3]
        if len(parts) == 5 and parts[4] == "status" and method == "GET":
            return self._status(type_id, instance_id)
        if len(parts) != 4:
            return 404, {"error": f"unknown path {path}"}
        return await self._instance(method, type_id, instance_id, body)

    def _type(self, method: str, type_id: int, body: bytes) -> tuple[int, Any]:
        if method == "GET":
            if type_id not in self.types:
                return 404, {"error": f"no policy type {type_id}"}
            return 200, self.types[type_id]
        if method == "DELETE":
            if any(not i.deleted for i in self.instances.get(type_id, {}).values()):
                return 400, {"error": f"policy type {type_id} still has instances; delete them first"}
            return (204, None) if self.types.pop(type_id, None) is not None else (404, {"error": "no such type"})
        if method != "PUT":
            return 405, {"error": "use GET, PUT or DELETE"}
        try:
            definition = json.loads(body)
            schema = definition["create_schema"]
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "a policy type is JSON with name, description, policy_type_id, create_schema"}
        if int(definition.get("policy_type_id", type_id)) != type_id:
            return 400, {"error": f"policy_type_id {definition.get('policy_type_id')} differs from the path {type_id}"}
        import jsonschema

        try:
            jsonschema.Draft7Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            return 400, {"error": f"create_schema is not a JSON schema: {exc.message}"}
        if type_id in self.types:
            return 400, {"error": f"policy type {type_id} exists; policy types are immutable"}
        self.types[type_id] = definition
        return 201, None

    async def _instance(self, method: str, type_id: int, instance_id: str, body: bytes) -> tuple[int, Any]:
        instances = self.instances.setdefault(type_id, {})
        inst = instances.get(instance_id)
        if method == "GET":
            return (200, inst.payload) if inst and not inst.deleted else (404, {"error": "no such policy instance"})
        if method == "DELETE":
            if inst is None or inst.deleted:
                return 404, {"error": "no such policy instance"}
            inst.deleted = True
            inst.handlers = {k: "DELETING" for k in inst.handlers}
            await self._deliver(type_id, instance_id, "DELETE", inst.payload)
            if not inst.handlers:
                instances.pop(instance_id, None)
            return 202, None
        if method != "PUT":
            return 405, {"error": "use GET, PUT or DELETE"}
        import jsonschema

        try:
            payload = json.loads(body)
            jsonschema.Draft7Validator(self.types[type_id]["create_schema"]).validate(payload)
        except ValueError as exc:
            return 400, {"error": f"the policy instance is not JSON: {exc}"}
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            return 400, {"error": f"the policy instance does not match the type's schema at {where}: {exc.message}"}
        operation = "UPDATE" if inst is not None and not inst.deleted else "CREATE"
        instances[instance_id] = _Instance(payload, inst.created_at if inst and operation == "UPDATE" else time.time())
        await self._deliver(type_id, instance_id, operation, payload)
        return 202, None

    def _status(self, type_id: int, instance_id: str) -> tuple[int, Any]:
        inst = self.instances.get(type_id, {}).get(instance_id)
        if inst is None:
            return 404, {"error": "no such policy instance"}
        in_effect = not inst.deleted and any(v == "OK" for v in inst.handlers.values())
        return 200, {"instance_status": "IN EFFECT" if in_effect else "NOT IN EFFECT",
                     "has_been_deleted": inst.deleted, "created_at": inst.created_at, "handlers": dict(inst.handlers)}
