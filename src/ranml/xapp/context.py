"""What handlers get: typed config and app state, the SDL store, features, model, metrics, logger, ways to act.

``Context[ConfigT, StateT]``: ``ctx.config`` is the app's validated settings (``ConfigT``, an
:class:`~ranml.config.AppSettings`), ``ctx.app_state`` what its lifespan yielded (``StateT``,
``None`` for an app without one), ``ctx.state`` the shared data layer (SDL: Redis, or memory).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol

from ranml.host import AppInfo as BaseAppInfo
from ranml.host import ConfigT, HoldsAppState, StateT
from ranml.protocols import e2ap
from ranml.protocols.e2sm import (
    CccCodec,
    CellSwitch,
    CellSwitchControl,
    GnbUeId,
    Guami,
    HandoverControl,
    NrCgi,
    RcCodec,
)
from ranml.protocols.rmr import MTYPES, RmrMessage
from ranml.xapp.features import FeatureStore
from ranml.xapp.metrics import XAppMetrics
from ranml.xapp.state import MemoryStateStore, RedisStateStore
from ranml.xapp.subscriptions import E2Subscriptions
from ranml.xapp.transport import SendError, Transport

if TYPE_CHECKING:
    from ranml.xapp.forecast import Forecaster

__all__ = ["AppInfo", "ConfigT", "Context", "NodeInfo", "StateT"]

CTRL_REQ = MTYPES["RIC_CONTROL_REQ"]


class AppInfo(BaseAppInfo, Protocol):
    """What the context tells of its app (an :class:`~ranml.xapp.XApp` is one): name, version, requestor id."""

    @property
    def requestor_id(self) -> int:
        """The RIC requestor id of its E2 subscriptions and controls."""


@dataclass
class NodeInfo:
    """An E2 node as the xApp knows it (from the E2 manager or configuration)."""

    meid: str
    cells: tuple[NrCgi, ...] = ()
    functions: dict[str, int] = field(default_factory=dict)  # "kpm"/"rc"/"ccc" -> RAN function id
    plmn: bytes = b"\x00\xf1\x10"




@dataclass
class Context(HoldsAppState[StateT], Generic[ConfigT, StateT]):
    """Handed to every handler; one per running app.

    ``app_state`` is what the app's lifespan yielded; reading it before the lifespan has started
    (in the lifespan itself, before its ``yield``) is an error.
    """

    app: AppInfo
    config: ConfigT
    transport: Transport
    state: MemoryStateStore | RedisStateStore
    metrics: XAppMetrics
    subscriptions: E2Subscriptions
    log: logging.Logger
    features: FeatureStore | None = None
    model: Forecaster | None = None
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)  # the app's own counters, in status and summary
    policies: dict[int, dict[str, dict[str, Any]]] = field(default_factory=dict)  # A1: type -> id -> payload
    control_timeout_s: float = 2.0
    _controls: dict[int, asyncio.Future[e2ap.Message]] = field(default_factory=dict)
    _instances: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _rc: RcCodec = field(default_factory=RcCodec)
    _ccc: CccCodec = field(default_factory=CccCodec)

    def node_of(self, cell: NrCgi) -> NodeInfo | None:
        """The node serving ``cell``."""
        for node in self.nodes.values():
            if cell in node.cells:
                return node
        return None

    # -- controls ---------------------------------------------------------------------------
    def on_control_outcome(self, message: e2ap.Message) -> bool:
        """Feed a decoded control ack/failure (the runner does); ``True`` if it was awaited."""
        fut = self._controls.get(getattr(message, "instance_id", -1))
        if fut is None or fut.done():
            return False
        fut.set_result(message)
        return True

    async def send_control(self, meid: str, ran_function_id: int, header: bytes, message: bytes,
                           wait: bool = True) -> e2ap.ControlAck | e2ap.ControlFailure | None:
        """Send an E2AP RIC Control Request; with ``wait``, the ack/failure (``None`` on timeout)."""
        instance = next(self._instances) % 65536
        req = e2ap.ControlRequest(self.app.requestor_id, instance, ran_function_id, header, message, ack_requested=True)
        fut: asyncio.Future[e2ap.Message] = asyncio.get_running_loop().create_future()
        if wait:
            self._controls[instance] = fut
        try:
            await self.transport.send(RmrMessage(CTRL_REQ, e2ap.encode(req), instance, meid=meid))
            self.metrics.count_control("sent")
            if not wait:
                return None
            outcome = await asyncio.wait_for(fut, self.control_timeout_s)
        except SendError as exc:
            self.metrics.count_control("send_error")
            self.log.warning("control to %s not sent: %s", meid, exc)
            return None
        except TimeoutError:
            self.metrics.count_control("timeout")
            return None
        finally:
            self._controls.pop(instance, None)
        ok = isinstance(outcome, e2ap.ControlAck)
        self.metrics.count_control("ack" if ok else "failure")
        return outcome if isinstance(outcome, e2ap.ControlAck | e2ap.ControlFailure) else None

    async def handover(self, meid: str, ue_amf_id: int, target: NrCgi) -> bool:
        """Hand one UE over to ``target`` (E2SM-RC style 3 action 1); ``True`` when acked."""
        node = self.nodes.get(meid)
        function = node.functions.get("rc", 3) if node else 3
        plmn = node.plmn if node else target.plmn
        header, message = self._rc.encode_handover(HandoverControl(GnbUeId(ue_amf_id, Guami(plmn)), target))
        return isinstance(await self.send_control(meid, function, header, message), e2ap.ControlAck)

    async def switch_cell(self, meid: str, cell: NrCgi, sleep: bool) -> bool:
        """Switch a cell off (``sleep``) or on (E2SM-CCC energy-saving control); ``True`` when acked."""
        node = self.nodes.get(meid)
        function = node.functions.get("ccc", 4) if node else 4
        header, message = self._ccc.encode_control(CellSwitchControl((CellSwitch(cell, sleep),)))
        return isinstance(await self.send_control(meid, function, header, message), e2ap.ControlAck)
