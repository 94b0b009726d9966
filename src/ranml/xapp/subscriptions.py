"""E2 subscriptions for xApps: direct E2 mode over RMR, and the OSC subscription manager's REST API.

Direct mode sends the E2AP RIC Subscription Request itself (to e2sim, or to an E2 termination that
accepts it), waits for the response or failure, retries with exponential backoff, deletes every
subscription on shutdown, and re-subscribes a node when it restarts: when a new E2 Setup from it is
seen, or when its reports stop for ``stale_after`` reporting periods.

:class:`SubmgrClient` talks to the OSC subscription manager (``POST /ric/v1/subscriptions``,
``DELETE /ric/v1/subscriptions/{id}``) with the field names of its REST API
(``SubscriptionParams``: ``ClientEndpoint`` with ``Host``/``HTTPPort``/``RMRPort``, ``Meid``,
``RANFunctionID``, ``SubscriptionDetails`` with ``XappEventInstanceId``, ``EventTriggers``,
``ActionToBeSetupList``), which ricxappframe 3.2.2's client gets wrong.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ranml.errors import RanmlError
from ranml.protocols import e2ap
from ranml.protocols.rmr import MTYPES, RmrMessage

__all__ = ["E2Subscriptions", "SubmgrClient", "SubscriptionError", "SubscriptionSpec", "watch_stale_nodes"]

log = logging.getLogger("ranml.xapp.subscriptions")
SUB_REQ, SUB_RESP, SUB_FAIL = MTYPES["RIC_SUB_REQ"], MTYPES["RIC_SUB_RESP"], MTYPES["RIC_SUB_FAILURE"]
DEL_REQ, DEL_RESP = MTYPES["RIC_SUB_DEL_REQ"], MTYPES["RIC_SUB_DEL_RESP"]


class SubscriptionError(RanmlError):
    """A subscription could not be set up or deleted."""


@dataclass(frozen=True)
class SubscriptionSpec:
    """One subscription: node, RAN function, event trigger and actions (E2SM bytes)."""

    meid: str
    ran_function_id: int
    event_trigger: bytes
    actions: tuple[tuple[int, bytes | None], ...]
    period_s: float


@dataclass
class _Active:
    spec: SubscriptionSpec
    instance_id: int
    admitted: tuple[int, ...] = ()
    last_report: float = field(default_factory=time.monotonic)
    interval: float | None = None  # observed real time between report rounds (EWMA): the node's clock may run fast
    round_start: float | None = None  # when the current round of (per-cell) indications began
    state: str = "pending"  # pending / active / failed


Sender = Callable[[RmrMessage], Awaitable[object]]


class E2Subscriptions:
    """Direct-mode subscriptions of one xApp.

    Parameters
    ----------
    send
        Sends a message towards the E2 node (the runner routes by MEID, or to a fixed endpoint).
    requestor_id
        The xApp's RIC requestor id.
    timeout_s, retries, backoff_s
        Wait per attempt, attempts, first backoff (doubles per attempt, capped at 10 s).
    stale_after
        Reporting periods without a report before a node is re-subscribed (the period is the
        observed real time between reports, which is shorter than the nominal one when the
        node's clock runs fast, as e2sim's does).
    """

    def __init__(self, send: Sender, requestor_id: int = 1001, timeout_s: float = 2.0, retries: int = 5,
                 backoff_s: float = 0.25, stale_after: float = 5.0) -> None:
        self.send = send
        self.requestor_id = requestor_id
        self.timeout_s, self.retries, self.backoff_s, self.stale_after = timeout_s, retries, backoff_s, stale_after
        self.active: dict[int, _Active] = {}
        self._instances = itertools.count(1)
        self._waiting: dict[tuple[int, int], asyncio.Future[e2ap.Message]] = {}
        self._resub_at: dict[str, tuple[float, float]] = {}  # meid -> (not before, wait): back-off
        self.resubscribed = 0

    # -- replies from the runner ----------------------------------------------------------------
    def on_reply(self, message: e2ap.Message) -> bool:
        """Feed a decoded response/failure/delete response; ``True`` when it was ours."""
        key = (getattr(message, "requestor_id", -1), getattr(message, "instance_id", -1))
        fut = self._waiting.get(key)
        if fut is None or fut.done():
            return False
        fut.set_result(message)
        return True

    def on_report(self, instance_id: int) -> None:
        """An indication of subscription ``instance_id`` arrived (keeps it fresh).

        The reporting interval is learnt between report *rounds*: a subscription with one action
        per cell gets its cells' indications back to back, and those near-zero gaps are not
        intervals. An indication within a fifth of the interval (10 ms before one is known) of
        the previous one belongs to the same round.
        """
        sub = self.active.get(instance_id)
        if sub is not None:
            now = time.monotonic()
            same_round = now - sub.last_report < (0.2 * sub.interval if sub.interval is not None else 0.01)
            if not same_round:
                if sub.round_start is not None:
                    gap = now - sub.round_start
                    sub.interval = gap if sub.interval is None else 0.8 * sub.interval + 0.2 * gap
                sub.round_start = now
            sub.last_report = now
            self._resub_at.pop(sub.spec.meid, None)  # reports flow again: no back-off

    # -- subscribe / delete -----------------------------------------------------------------------
    async def _exchange(self, instance: int, msg: RmrMessage) -> e2ap.Message | None:
        fut: asyncio.Future[e2ap.Message] = asyncio.get_running_loop().create_future()
        self._waiting[(self.requestor_id, instance)] = fut
        try:
            await self.send(msg)
            return await asyncio.wait_for(fut, self.timeout_s)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop((self.requestor_id, instance), None)

    async def subscribe(self, spec: SubscriptionSpec, instance_id: int | None = None) -> _Active:
        """Subscribe with retries; raises :class:`SubscriptionError` when every attempt fails."""
        instance = instance_id if instance_id is not None else next(self._instances)
        sub = self.active.setdefault(instance, _Active(spec, instance))
        req = e2ap.SubscriptionRequest(self.requestor_id, instance, spec.ran_function_id, spec.event_trigger,
                                       spec.actions)
        msg = RmrMessage(SUB_REQ, e2ap.encode(req), instance, meid=spec.meid)
        delay = self.backoff_s
        last = "no answer"
        for attempt in range(1, self.retries + 1):
            reply = await self._exchange(instance, msg)
            if isinstance(reply, e2ap.SubscriptionResponse):
                sub.admitted, sub.state, sub.last_report = reply.admitted, "active", time.monotonic()
                sub.round_start = None  # the silence before (a restart) is not a reporting interval
                log.info("subscribed %s function %d as %d/%d (actions %s)", spec.meid, spec.ran_function_id,
                         self.requestor_id, instance, list(reply.admitted))
                return sub
            if isinstance(reply, e2ap.SubscriptionFailure):
                last = f"failure {reply.cause}"
                if reply.cause == ("ricRequest", "duplicate-ric-request-id"):
                    sub.state = "active"  # the node still has it: nothing was lost
                    return sub
            log.info("subscription %s/%d attempt %d: %s", spec.meid, instance, attempt, last)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        sub.state = "failed"
        raise SubscriptionError(f"subscription to {spec.meid} function {spec.ran_function_id} failed after "
                                f"{self.retries} attempts ({last})")

    async def delete_all(self) -> int:
        """Delete every active subscription (at shutdown, concurrently); returns how many were confirmed."""

        async def delete(instance: int, sub: _Active) -> bool:
            req = e2ap.SubscriptionDeleteRequest(self.requestor_id, instance, sub.spec.ran_function_id)
            try:
                reply = await self._exchange(instance, RmrMessage(DEL_REQ, e2ap.encode(req), instance,
                                                                  meid=sub.spec.meid))
            except Exception as exc:  # an unreachable node must not block the shutdown
                log.info("delete of %s/%d not sent: %s", sub.spec.meid, instance, exc)
                return False
            return isinstance(reply, e2ap.SubscriptionDeleteResponse)

        items = list(self.active.items())
        results = await asyncio.gather(*(delete(i, s) for i, s in items))
        for instance, _ in items:
            self.active.pop(instance, None)
        return sum(results)

    async def resubscribe_node(self, meid: str) -> int:
        """Subscribe again everything held for ``meid`` (after a node restart); returns the count.

        Repeated attempts for a node that stays silent back off (doubling, at most 60 s apart).
        """
        _, wait = self._resub_at.get(meid, (0.0, 0.5))
        self._resub_at[meid] = (time.monotonic() + wait, min(wait * 2, 60.0))
        done = 0
        for instance, sub in list(self.active.items()):
            if sub.spec.meid == meid:
                sub.state = "pending"
                try:
                    await self.subscribe(sub.spec, instance)
                    done += 1
                    self.resubscribed += 1
                except SubscriptionError as exc:
                    log.warning("re-subscribing %s: %s", meid, exc)
        return done

    def stale_nodes(self) -> set[str]:
        """Nodes with an active subscription whose reports stopped.

        Silent for ``stale_after`` reporting intervals: the interval observed between report
        rounds in real time (a simulated node's clock may run fast), or the subscribed period
        until one is known.
        """
        now = time.monotonic()
        return {s.spec.meid for s in self.active.values() if s.state == "active"
                and now - s.last_report > self.stale_after * max(s.interval or s.spec.period_s, 0.05)
                and now >= self._resub_at.get(s.spec.meid, (0.0, 0.0))[0]}


class SubmgrClient:
    """Client of the OSC subscription manager REST API (``/ric/v1/subscriptions``).

    Parameters
    ----------
    base_url
        E.g. ``http://service-ricplt-submgr-http.ricplt:8088/ric/v1``.
    host, http_port, rmr_port
        The xApp's own endpoint, where the manager posts the asynchronous response and routes
        indications.
    """

    def __init__(self, base_url: str, host: str, http_port: int = 8080, rmr_port: int = 4560,
                 timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.host, self.http_port, self.rmr_port, self.timeout_s = host, http_port, rmr_port, timeout_s
        self._event_ids = itertools.count(1)

    def params(self, spec: SubscriptionSpec, directives: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``SubscriptionParams`` JSON body for one subscription."""
        body: dict[str, Any] = {
            "SubscriptionId": "",
            "ClientEndpoint": {"Host": self.host, "HTTPPort": self.http_port, "RMRPort": self.rmr_port},
            "Meid": spec.meid,
            "RANFunctionID": spec.ran_function_id,
            "SubscriptionDetails": [{
                "XappEventInstanceId": next(self._event_ids),
                "EventTriggers": list(spec.event_trigger),
                "ActionToBeSetupList": [{"ActionID": aid, "ActionType": "report",
                                         "ActionDefinition": list(defn or b""),
                                         "SubsequentAction": {"SubsequentActionType": "continue",
                                                              "TimeToWait": "zero"}}
                                        for aid, defn in spec.actions],
            }],
        }
        if directives:
            body["E2SubscriptionDirectives"] = directives
        return body

    async def subscribe(self, spec: SubscriptionSpec) -> str:
        """POST a subscription; returns the manager's ``SubscriptionId``."""
        return await self.subscribe_params(self.params(spec))

    async def subscribe_params(self, body: dict[str, Any]) -> str:
        """POST a prepared ``SubscriptionParams`` body; returns the ``SubscriptionId``."""
        status, data = await self._request("POST", "/subscriptions", body)
        if status != 201 or not isinstance(data, dict) or not data.get("SubscriptionId"):
            raise SubscriptionError(f"subscription manager answered {status}: {data!r}")
        return str(data["SubscriptionId"])

    async def delete(self, subscription_id: str) -> None:
        """DELETE a subscription."""
        status, data = await self._request("DELETE", f"/subscriptions/{subscription_id}", None)
        if status not in (200, 204):
            raise SubscriptionError(f"subscription manager refused the delete ({status}: {data!r})")

    async def _request(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                r = await client.request(method, self.base_url + path,
                                         content=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise SubscriptionError(f"subscription manager at {self.base_url} unreachable: {exc}") from None
        try:
            return r.status_code, r.json() if r.content else None
        except ValueError:
            return r.status_code, r.text


async def watch_stale_nodes(subscriptions: E2Subscriptions, every_s: float = 0.5) -> None:
    """Re-subscribe nodes whose reports stopped (a node restart loses its subscriptions); runs until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        for meid in subscriptions.stale_nodes():
            log.warning("%s: reports stopped; re-subscribing (node restart?)", meid)
            await subscriptions.resubscribe_node(meid)
