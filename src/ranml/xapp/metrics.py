"""Prometheus metrics of one xApp (its own registry: no process-global state)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ranml.xapp.forecast import Forecaster

__all__ = ["XAppMetrics"]

_LATENCY_BUCKETS = (50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1.0)


class XAppMetrics:
    """Counters and histograms exposed on ``/metrics`` (prometheus_client text format)."""

    def __init__(self, app: str) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        label = {"xapp": app}
        self.received = Counter("ranml_xapp_messages_received", "Messages received, by type", ["xapp", "mtype"],
                                registry=self.registry)
        self.dropped = Counter("ranml_xapp_messages_dropped", "Messages dropped at overload (oldest first)",
                               ["xapp"], registry=self.registry).labels(**label)
        self.malformed = Counter("ranml_xapp_messages_malformed", "Messages whose payload did not decode",
                                 ["xapp", "layer"], registry=self.registry)
        self.unhandled = Counter("ranml_xapp_messages_unhandled", "Messages with no handler", ["xapp"],
                                 registry=self.registry).labels(**label)
        self.handler_errors = Counter("ranml_xapp_handler_errors", "Handler exceptions", ["xapp"],
                                      registry=self.registry).labels(**label)
        self.controls = Counter("ranml_xapp_controls", "Controls sent and their outcome", ["xapp", "outcome"],
                                registry=self.registry)
        self.latency = Histogram("ranml_xapp_handler_seconds", "Message in to handler done", ["xapp"],
                                 buckets=_LATENCY_BUCKETS, registry=self.registry).labels(**label)
        self.deadline_misses = Counter("ranml_xapp_deadline_misses", "Predictions answered by the fallback",
                                       ["xapp"], registry=self.registry).labels(**label)
        self.subscriptions = Gauge("ranml_xapp_subscriptions", "Active E2 subscriptions", ["xapp"],
                                   registry=self.registry).labels(**label)
        self.queue_depth = Gauge("ranml_xapp_queue_depth", "Messages waiting for a handler", ["xapp"],
                                 registry=self.registry).labels(**label)
        self.model_swaps = Gauge("ranml_xapp_model_swaps", "Model versions swapped in (ok) or refused",
                                 ["xapp", "outcome"], registry=self.registry)
        self.canary = Gauge("ranml_xapp_canary_decisions", "Canary decisions taken, by action", ["xapp", "action"],
                            registry=self.registry)
        self.app = app

    def sync_model(self, model: Forecaster | None) -> None:
        """Copy a forecaster's swap and canary history into the gauges (called before rendering)."""
        swaps = model.swaps if model is not None else []
        decisions = model.decisions if model is not None else []
        self.model_swaps.labels(xapp=self.app, outcome="ok").set(sum(1 for s in swaps if s.get("ok")))
        self.model_swaps.labels(xapp=self.app, outcome="refused").set(sum(1 for s in swaps if not s.get("ok")))
        for action in ("promote", "rollback"):
            self.canary.labels(xapp=self.app, action=action).set(sum(1 for d in decisions if d.action == action))

    def count_received(self, mtype: int) -> None:
        """One message of ``mtype`` arrived."""
        self.received.labels(xapp=self.app, mtype=str(mtype)).inc()

    def count_malformed(self, layer: str) -> None:
        """A payload failed to decode at ``layer`` (e2ap, e2sm, ...)."""
        self.malformed.labels(xapp=self.app, layer=layer).inc()

    def count_control(self, outcome: str) -> None:
        """A control was sent / acked / failed."""
        self.controls.labels(xapp=self.app, outcome=outcome).inc()

    def render(self) -> str:
        """The text exposition format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()

    def value(self, name: str, **labels: Any) -> float:
        """One sample's value (for tests and summaries); 0 when absent."""
        v = self.registry.get_sample_value(name, labels or None)
        return 0.0 if v is None else float(v)
