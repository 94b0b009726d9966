"""A1-P v2 client: policy types and instances on the Near-RT RIC's A1 mediator.

Paths follow the O-RAN A1-P v2 layout of the OSC A1 mediator
(``/A1-P/v2/policytypes/{type}/policies/{id}``). Connection errors and 5xx answers are retried
with exponential back-off; 4xx answers are not (they will not change) and raise
:class:`~ranml.errors.PolicyError` with the mediator's message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from ranml.errors import PolicyError
from ranml.protocols.a1policies import PolicyType

__all__ = ["A1Client"]

log = logging.getLogger("ranml.rapp.a1")


class A1Client:
    """Talk A1-P v2 to ``base_url`` (e.g. ``http://service-ricplt-a1mediator-http.ricplt:10000``).

    Parameters
    ----------
    retries
        Attempts after the first one for connection errors and 5xx answers.
    backoff_s
        First back-off; doubles per attempt.
    """

    def __init__(self, base_url: str, timeout_s: float = 5.0, retries: int = 3, backoff_s: float = 0.2) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s

    def _request(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        import httpx

        url = f"{self.base_url}/A1-P/v2{path}"
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if content is not None else {}
        last = ""
        for attempt in range(self.retries + 1):
            try:
                r = httpx.request(method, url, content=content, headers=headers, timeout=self.timeout_s)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if r.status_code in ok:
                    return r.json() if r.content else None
                detail = r.text[:500]
                with contextlib.suppress(ValueError, AttributeError):
                    detail = r.json().get("error", detail)
                if r.status_code < 500:
                    raise PolicyError(f"A1 {method} {path}: HTTP {r.status_code}: {detail}")
                last = f"HTTP {r.status_code}: {detail}"
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise PolicyError(f"A1 {method} {url}: failed after {self.retries + 1} attempts ({last})")

    def healthy(self) -> bool:
        """Whether the mediator answers its health check."""
        try:
            self._request("GET", "/healthcheck")
        except PolicyError:
            return False
        return True

    def policy_types(self) -> list[int]:
        """Policy type ids the mediator knows."""
        return [int(t) for t in self._request("GET", "/policytypes")]

    def ensure_policy_type(self, policy_type: PolicyType) -> bool:
        """Create ``policy_type`` unless it exists; ``True`` when it was created."""
        if policy_type.policy_type_id in self.policy_types():
            return False
        self._request("PUT", f"/policytypes/{policy_type.policy_type_id}", policy_type.definition(), ok=(200, 201))
        return True

    def put_policy(self, type_id: int, instance_id: str, payload: dict[str, Any]) -> None:
        """Create or replace a policy instance (the mediator answers 202 and delivers it)."""
        self._request("PUT", f"/policytypes/{type_id}/policies/{instance_id}", payload, ok=(200, 201, 202))

    def get_policy(self, type_id: int, instance_id: str) -> dict[str, Any]:
        """A policy instance's payload."""
        return dict(self._request("GET", f"/policytypes/{type_id}/policies/{instance_id}"))

    def policies(self, type_id: int) -> list[str]:
        """Instance ids of a type."""
        return [str(i) for i in self._request("GET", f"/policytypes/{type_id}/policies")]

    def delete_policy(self, type_id: int, instance_id: str) -> None:
        """Delete an instance (the xApps are told)."""
        self._request("DELETE", f"/policytypes/{type_id}/policies/{instance_id}", ok=(200, 202, 204))

    def policy_status(self, type_id: int, instance_id: str) -> dict[str, Any]:
        """``{"instance_status": "IN EFFECT" | "NOT IN EFFECT", "has_been_deleted", ...}``."""
        return dict(self._request("GET", f"/policytypes/{type_id}/policies/{instance_id}/status"))

    def wait_in_effect(self, type_id: int, instance_id: str, timeout_s: float = 10.0) -> dict[str, Any]:
        """Poll the status until an xApp applied the instance; raises on timeout."""
        deadline = time.monotonic() + timeout_s
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.policy_status(type_id, instance_id)
            if status.get("instance_status") == "IN EFFECT":
                return status
            time.sleep(0.1)
        raise PolicyError(f"A1 policy {type_id}/{instance_id} not in effect after {timeout_s:.0f} s: {status}")
