"""The rApp runner: the O1 HTTP endpoints, A1 client, timers, the lifespan and a followed model around an :class:`RApp`.

HTTP (one port):

* ``POST /eventListener/v7`` and ``/eventListener/v7/eventBatch``: VES events (measurements are
  ingested; file-ready notifications make the runner read the PM file) → 202 ``{"ingested": n}``;
  a malformed event is refused with 400 and the reason, and nothing of it is stored;
* ``POST /pm/files`` ``{"location": "<path or file:// URL>"}``: ingest one PM file;
* ``GET /healthz``, ``/readyz``, ``/status`` (counters, telemetry rows, policies written) and
  Prometheus ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from ranml.errors import DataError, PolicyError, RanmlError
from ranml.host import Text, TinyHttpServer, cancel_and_wait
from ranml.rapp.a1client import A1Client
from ranml.rapp.app import RApp
from ranml.rapp.context import RAppContext
from ranml.rapp.telemetry import TelemetryStore, pm_file_rows, ves_rows
from ranml.serving import ServedModel

__all__ = ["RAppRunner"]

log = logging.getLogger("ranml.rapp.runner")


class RAppRunner:
    """Run ``app`` with its HTTP endpoints; :meth:`start`, then :meth:`stop`."""

    def __init__(self, app: RApp[Any, Any], config_values: dict[str, Any] | None = None, http_port: int | None = 8080,
                 http_host: str = "127.0.0.1", a1_url: str | None = None, model: ServedModel | None = None) -> None:
        self.app, self.config_values = app, config_values
        self.http_port, self.http_host, self.a1_url = http_port, http_host, a1_url
        self.model = model
        self.ctx: RAppContext[Any, Any] | None = None
        self.http: TinyHttpServer | None = None
        self.ready = False
        self.counters = {"ves_events": 0, "pm_files": 0, "rows": 0, "rejected": 0, "handler_errors": 0}
        self._tasks: list[asyncio.Task[Any]] = []
        self._lifespans = contextlib.AsyncExitStack()
        self._handling = asyncio.Lock()

    async def start(self) -> RAppContext[Any, Any]:
        """Validate the config, start the model, open HTTP, create the A1 policy types, enter the lifespan, timers."""
        app = self.app
        config = app.load_config(self.config_values)
        a1 = A1Client(self.a1_url) if self.a1_url else None
        if self.model is not None:
            await asyncio.to_thread(self.model.start)  # loads and follows the alias off the event loop
        self.ctx = RAppContext(app, config, TelemetryStore(app.telemetry_step), a1,
                               logging.getLogger(f"ranml.rapp.{app.name}"), self.model)
        if self.http_port is not None:
            self.http = TinyHttpServer(self._http, self.http_port, self.http_host)
            self.http_port = await self.http.start()
        if a1 is not None:
            for policy_type in app.policies.values():
                try:
                    created = await asyncio.to_thread(a1.ensure_policy_type, policy_type)
                except PolicyError as exc:
                    log.warning("cannot create A1 policy type %d: %s", policy_type.policy_type_id, exc)
                    continue
                log.info("A1 policy type %d %s", policy_type.policy_type_id, "created" if created else "exists")
        if app.lifespan_context is not None:
            self.ctx.set_app_state(await self._lifespans.enter_async_context(app.lifespan_context(self.ctx)))
        else:
            self.ctx.set_app_state(None)
        for period, fn in app.timers:
            self._tasks.append(asyncio.create_task(self._timer(period, fn), name=f"rapp-timer-{fn.__name__}"))
        self.ready = True
        return self.ctx

    async def stop(self) -> dict[str, Any]:
        """Stop timers, leave lifespans, close HTTP; returns the counters."""
        self.ready = False
        await cancel_and_wait(self._tasks)
        await self._lifespans.aclose()
        if self.http is not None:
            await self.http.close()
        if self.model is not None:
            self.model.close()
        return self.status()

    def status(self) -> dict[str, Any]:
        """Counters, telemetry size, policies written."""
        ctx = self.ctx
        out = {"app": self.app.name, "ready": self.ready, **self.counters,
               "telemetry_rows": len(ctx.telemetry) if ctx else 0,
               **(ctx.counters if ctx else {}), "policies": sorted(ctx.written) if ctx else []}
        if self.model is not None and ctx is not None:
            out["model"] = self.model.status()
        return out

    async def _timer(self, period: float, fn: Any) -> None:
        assert self.ctx is not None
        while True:
            await asyncio.sleep(period)
            try:
                await fn(self.ctx)
            except RanmlError as exc:
                self.counters["handler_errors"] += 1
                log.warning("timer %s: %s", fn.__name__, exc)

    async def ingest(self, rows: list[dict[str, Any]]) -> int:
        """Store rows and run the telemetry handlers (one ingest at a time)."""
        assert self.ctx is not None
        added = self.ctx.telemetry.add(rows)
        self.counters["rows"] += added
        async with self._handling:
            fn = self.app.telemetry_handler
            if fn is not None:
                try:
                    await fn(self.ctx, added)
                except RanmlError as exc:
                    self.counters["handler_errors"] += 1
                    log.warning("telemetry handler %s: %s", fn.__name__, exc)
        return added

    async def _http(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method == "POST" and path in ("/eventListener/v7", "/eventListener/v7/eventBatch"):
            try:
                rows, files = ves_rows(json.loads(body))
                for location in files:
                    rows += await asyncio.to_thread(pm_file_rows, location)
            except (ValueError, DataError) as exc:
                self.counters["rejected"] += 1
                return 400, {"error": str(exc)}
            self.counters["ves_events"] += 1
            self.counters["pm_files"] += len(files)
            return 202, {"ingested": await self.ingest(rows)}
        if method == "POST" and path == "/pm/files":
            try:
                location = str(json.loads(body)["location"])
                rows = await asyncio.to_thread(pm_file_rows, location)
            except (ValueError, KeyError, TypeError) as exc:
                self.counters["rejected"] += 1
                return 400, {"error": f"send {{\"location\": \"<path>\"}}: {exc}"}
            except DataError as exc:
                self.counters["rejected"] += 1
                return 400, {"error": str(exc)}
            self.counters["pm_files"] += 1
            return 202, {"ingested": await self.ingest(rows)}
        if path == "/healthz":
            return 200, {"status": "ok"}
        if path == "/readyz":
            return (200 if self.ready else 503), {"ready": self.ready}
        if path == "/status":
            return 200, self.status()
        if path == "/metrics":
            lines = [f"ranml_rapp_{k} {float(v):g}" for k, v in self.status().items() if isinstance(v, int | float)]
            return 200, Text("\n".join(lines) + "\n", "text/plain; version=0.0.4")
        return 404, {"error": f"unknown path {path}; try /eventListener/v7, /pm/files, /status"}
