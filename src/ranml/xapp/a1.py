"""A1 policies on the xApp side: the JSON the OSC A1 mediator sends over RMR, and the answer.

The mediator sends ``A1_POLICY_REQ`` (20010, sub id = policy type) with::

    {"operation": "CREATE" | "UPDATE" | "DELETE", "policy_type_id": 20008,
     "policy_instance_id": "tsa-1", "payload": {...}}

and expects ``A1_POLICY_RESP`` (20011)::

    {"policy_type_id": 20008, "policy_instance_id": "tsa-1", "handler_id": "<xapp>",
     "status": "OK" | "ERROR" | "DELETED"}

An xApp asks for the instances that exist already with ``A1_POLICY_QUERY`` (20012,
``{"policy_type_id": N}``) when it starts, so a restarted xApp gets its policies back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ranml.errors import ConfigError

__all__ = ["OPERATIONS", "PolicyRequest", "instances_after", "parse_policy_request", "policy_query",
           "policy_response"]

OPERATIONS = ("CREATE", "UPDATE", "DELETE")


@dataclass(frozen=True)
class PolicyRequest:
    """One policy operation from the A1 mediator."""

    operation: str
    policy_type_id: int
    policy_instance_id: str
    payload: dict[str, Any] = field(default_factory=dict)


def parse_policy_request(data: bytes) -> PolicyRequest:
    """Decode a 20010 payload; :class:`~ranml.errors.ConfigError` names what is wrong."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"A1 policy request: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ConfigError("A1 policy request: a JSON object is expected")
    operation = str(body.get("operation", "CREATE")).upper()
    if operation not in OPERATIONS:
        raise ConfigError(f"A1 policy request: operation {operation!r} is not one of {', '.join(OPERATIONS)}")
    try:
        type_id = int(body["policy_type_id"])
        instance = str(body["policy_instance_id"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError("A1 policy request: policy_type_id (int) and policy_instance_id are required") from None
    payload = body.get("payload") or {}
    if isinstance(payload, str):  # some mediators send the instance as a JSON string
        try:
            payload = json.loads(payload)
        except ValueError:
            raise ConfigError("A1 policy request: payload is a string that is not JSON") from None
    if not isinstance(payload, dict):
        raise ConfigError("A1 policy request: payload must be a JSON object")
    return PolicyRequest(operation, type_id, instance, payload)


def policy_response(request: PolicyRequest, handler_id: str, ok: bool) -> bytes:
    """The 20011 answer to ``request``."""
    status = ("DELETED" if request.operation == "DELETE" else "OK") if ok else "ERROR"
    return json.dumps({"policy_type_id": request.policy_type_id, "policy_instance_id": request.policy_instance_id,
                       "handler_id": handler_id, "status": status}).encode()


def policy_query(policy_type_id: int) -> bytes:
    """The 20012 query for the instances of a policy type."""
    return json.dumps({"policy_type_id": policy_type_id}).encode()


def instances_after(kept: dict[str, dict[str, Any]], request: PolicyRequest | None = None) -> list[dict[str, Any]]:
    """The payloads of a type's instances once ``request`` applies (``kept``: the instances so far)."""
    if request is None:
        return list(kept.values())
    others = [p for k, p in kept.items() if k != request.policy_instance_id]
    return others if request.operation == "DELETE" else [*others, request.payload]
