"""The xApp's HTTP endpoints, as the OSC platform probes and configures an xApp.

``/ric/v1/health/alive`` and ``/ready`` (Kubernetes probes), ``/ric/v1/config`` (the descriptor
with the running controls), ``/ric/v1/status`` (counters), Prometheus ``/metrics``, and
``POST /ric/v1/subscriptions/response`` (the subscription manager's notifications in REST mode).
"""

from __future__ import annotations

from typing import Any, Protocol

from ranml.host import Text
from ranml.xapp.app import XApp
from ranml.xapp.context import Context
from ranml.xapp.descriptor import build_descriptor
from ranml.xapp.rest_subscriptions import RestSubscriptions

__all__ = ["XAppEndpoints"]


class RunnerView(Protocol):
    """What the endpoints read of the runner."""

    app: XApp[Any, Any]
    ready: bool
    ctx: Context[Any, Any] | None
    rest: RestSubscriptions | None

    def status(self) -> dict[str, Any]:
        """Counters for ``/ric/v1/status``."""


class XAppEndpoints:
    """``handler(method, path, body)`` for :class:`~ranml.host.TinyHttpServer`."""

    def __init__(self, runner: RunnerView) -> None:
        self.runner = runner

    def __call__(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """Answer one request."""
        r = self.runner
        ctx = r.ctx
        if path == "/ric/v1/health/alive":
            return 200, {"status": "alive"}
        if path == "/ric/v1/health/ready":
            return (200, {"status": "ready"}) if r.ready else (503, {"status": "not ready"})
        if path == "/ric/v1/config":
            descriptor = build_descriptor(r.app)
            if ctx is not None:
                descriptor["controls"] = ctx.config.model_dump(mode="json")
            return 200, [{"metadata": {"xappName": r.app.name, "configType": "json"}, "config": descriptor}]
        if path == "/metrics" and ctx is not None:
            ctx.metrics.sync_model(ctx.model)
            return 200, Text(ctx.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        if path == "/ric/v1/subscriptions/response" and method == "POST":
            if r.rest is None:
                return 404, {"error": "not subscribed through a subscription manager (no submgr_url)"}
            return r.rest.notification(body)
        if path == "/ric/v1/status" and ctx is not None:
            return 200, r.status()
        return 404, {"error": f"unknown path {path}"}
