"""The dApp runner: settings, the forecaster (a followed registry model or the linear trend), link, loop, HTTP.

:class:`DAppRunner` does what ``ranml dapp run`` used to do itself: it validates its
:class:`DAppSettings`, builds the forecaster, prepares the loop before attaching to the E3 link
(the RAN side starts publishing then), serves ``/healthz``, ``/readyz`` and ``/status`` on the
bind address of the settings (a helper thread, outside the slot loop) and runs the loop until the
RAN side stops, ``max_slots`` or a stop request.

A registry model is a :class:`~ranml.serving.ServedModel`: alias moves are followed (the new
version is prepared in the loop's idle time and swapped between two slots); ``swap_every_s``
additionally reloads the serving version that often, to measure what a hot swap costs a 1 kHz loop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Literal

from pydantic import Field

from ranml.config import RanmlModel
from ranml.dapp.e3 import ShmLink, UnixLink
from ranml.dapp.loop import DApp, DAppLoop, LinearTrendForecaster, LoopStats, ModelHolder, OnnxSlotForecaster
from ranml.errors import ConfigError, RanmlError
from ranml.host import ThreadedHttpServer
from ranml.serving import ModelRef, ServedModel, open_registry

__all__ = ["DAppRunner", "DAppSettings"]

log = logging.getLogger("ranml.dapp.runner")


class DAppSettings(RanmlModel):
    """How the runner attaches a dApp to the RAN (not the dApp's own logic)."""

    cells: int = Field(default=8, ge=1, le=4096, description="cells per slot record (as the RAN side)")
    transport: Literal["shm", "unix"] = "shm"
    path: str = Field(default="ranml-e3", min_length=1, description="shared-memory name or Unix socket path")
    budget_us: float = Field(default=1000.0, gt=0, description="per-slot budget, publication to control")
    registry: str | None = Field(default=None, description="registry with the model (else a linear trend)")
    model: str | None = Field(default=None, description="NAME, NAME@ALIAS or NAME@VERSION in the registry")
    swap_every_s: float = Field(default=0.0, ge=0, description="reload the model this often (0: never)")
    max_slots: int | None = Field(default=None, ge=1)
    http_port: int | None = Field(default=None, ge=0, le=65535, description="health/status port (None: no HTTP)")
    http_host: str = Field(default="127.0.0.1", description="bind address of the health/status endpoints")
    poll_s: float = Field(default=1.0, gt=0, description="alias polling period without Redis pub/sub")

    def model_ref(self) -> ModelRef | None:
        """The registry model, or ``None`` for the built-in linear trend.

        Raises
        ------
        ConfigError
            Only one of ``registry`` and ``model`` is set, or the reference is malformed.
        """
        if bool(self.registry) != bool(self.model):
            raise ConfigError("dApp settings: give both registry and model (or neither, for the linear trend)")
        return ModelRef.parse(self.model) if self.model else None


class DAppRunner:
    """Run ``dapp`` on an E3 link: :meth:`start`, :meth:`run`, :meth:`close` (or :meth:`serve`)."""

    def __init__(self, dapp: DApp, settings: DAppSettings | None = None) -> None:
        self.dapp = dapp
        self.settings = settings or DAppSettings()
        self.served: ServedModel | None = None
        self.holder: ModelHolder | None = None
        self.loop: DAppLoop | None = None
        self.http: ThreadedHttpServer | None = None
        self.ready = False
        self._link: ShmLink | UnixLink | None = None
        self._swapper: threading.Thread | None = None

    def _forecaster(self) -> LinearTrendForecaster | OnnxSlotForecaster:
        s, ref = self.settings, self.settings.model_ref()
        if ref is None or s.registry is None:
            return LinearTrendForecaster(s.cells, self.dapp.window, self.dapp.horizon)
        if self.served is None:
            self.served = ServedModel(open_registry(s.registry), ref, challenger_alias=None, poll_s=s.poll_s,
                                      by=f"dapp:{self.dapp.name}", threads=1).start()
        return OnnxSlotForecaster(self.served, s.cells)

    def start(self) -> DAppRunner:
        """Build the forecaster and the loop, attach to the link, open HTTP; the RAN side may publish then."""
        s = self.settings
        self.holder = ModelHolder(self._forecaster())
        link = ShmLink(s.path, s.cells) if s.transport == "shm" else UnixLink(s.path, s.cells)
        self.loop = DAppLoop(self.dapp, link, s.cells, self.holder, s.budget_us).prepare()  # before attaching
        link.open()
        self._link = link
        if s.http_port is not None:
            self.http = ThreadedHttpServer(self._http, s.http_port, s.http_host, name="dapp-http")
            self.http.start()
        self.ready = True
        return self

    def run(self, stop: threading.Event) -> LoopStats:
        """Run the slot loop until the RAN side stops, ``max_slots``, or ``stop`` is set."""
        if self.loop is None or self.holder is None:
            raise RanmlError(f"dApp {self.dapp.name}: start() the runner before run()")
        if self.settings.swap_every_s > 0:
            self._swapper = threading.Thread(target=self._swap_periodically, args=(stop,), name="dapp-swapper",
                                             daemon=True)
            self._swapper.start()
        try:
            return self.loop.run(stop, self.settings.max_slots)
        finally:
            stop.set()

    def close(self) -> None:
        """Detach from the link, stop HTTP, the swapper and alias following."""
        self.ready = False
        if self._swapper is not None:
            self._swapper.join(timeout=5)
        if self._link is not None:
            self._link.close()
        if self.http is not None:
            self.http.close()
        if self.served is not None:
            self.served.close()

    def serve(self, stop: threading.Event) -> dict[str, Any]:
        """:meth:`start`, :meth:`run`, :meth:`close`; returns :meth:`summary`."""
        self.start()
        try:
            self.run(stop)
        finally:
            self.close()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """Loop statistics, swaps and the model version (the CLI's JSON output and ``/status``)."""
        s = self.settings
        out: dict[str, Any] = {"dapp": self.dapp.name, "transport": s.transport, "budget_us": s.budget_us}
        if self.loop is not None:
            out.update(self.loop.stats.summary())
        out["swaps"] = self.holder.swaps_done if self.holder is not None else 0
        if self.served is not None:
            out["model_version"] = self.served.version
        return out

    def _http(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/healthz":
            return 200, {"status": "ok"}
        if path == "/readyz":
            return (200 if self.ready else 503), {"ready": self.ready}
        if path == "/status":
            return 200, self.summary()
        return 404, {"error": f"unknown path {path}; try /healthz, /readyz, /status"}

    def _swap_periodically(self, stop: threading.Event) -> None:
        """Reload the model every ``swap_every_s`` (a fresh session each time), or rebuild the built-in one."""
        every = self.settings.swap_every_s
        assert self.holder is not None
        while not stop.wait(every):
            if self.served is not None:
                try:
                    self.served.reload()  # prepared in the loop's idle time; this thread does not wait
                except RanmlError as exc:  # the previous one is still being prepared
                    log.warning("hot swap skipped: %s", exc)
                    continue
            else:
                self.holder.swap(self._forecaster())
            log.debug("hot swap asked for at %.3f (%d done)", time.monotonic(), self.holder.swaps_done)
