"""``ranml dapp``: run a dApp on an E3 link, or emulate the RAN side of that link."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from ranml.cli._common import handle_errors, setup_logging

app = typer.Typer(help="dApp runtime: slot-level loops over an E3 link (shared memory or Unix socket).",
                  no_args_is_help=True)


def _health_server(port: int, status: Any) -> None:
    """/healthz and /readyz on a daemon thread (outside the slot loop)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = json.dumps(status()).encode()
            self.send_response(200 if self.path in ("/healthz", "/readyz", "/status") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="dapp-health", daemon=True).start()


@app.command("run")
@handle_errors
def run(ref: Annotated[str, typer.Argument(help="module:app, or prb-reservation.")],
        cells: Annotated[int, typer.Option(help="Cells per slot record (as the RAN side).")] = 8,
        transport: Annotated[str, typer.Option(help="shm or unix.")] = "shm",
        path: Annotated[str, typer.Option(help="Shared-memory name, or the Unix socket path.")] = "ranml-e3",
        budget_us: Annotated[float, typer.Option(help="Per-slot budget (publication to control).")] = 1000.0,
        registry: Annotated[str | None, typer.Option(help="Registry with the model (else a linear trend).")] = None,
        model: Annotated[str | None, typer.Option(help="NAME@VERSION or NAME@ALIAS in the registry.")] = None,
        swap_every_s: Annotated[float, typer.Option(help="Hot-swap the model this often (0: never).")] = 0.0,
        max_slots: Annotated[int | None, typer.Option(help="Stop after this many slots.")] = None,
        http_port: Annotated[int | None, typer.Option(help="Health/status HTTP port.")] = None,
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the loop statistics here.")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run a dApp until the RAN side stops sending slots (or SIGTERM)."""
    from ranml.dapp import ShmLink, UnixLink, load_dapp
    from ranml.dapp.loop import DAppLoop, ModelHolder
    from ranml.dapp.runtime import build_forecaster, start_swapper
    from ranml.errors import ConfigError

    setup_logging(verbose)
    dapp = load_dapp(ref)
    if transport not in ("shm", "unix"):
        raise ConfigError(f"--transport {transport!r}: use shm or unix")
    holder = ModelHolder(build_forecaster(dapp, cells, registry, model))
    link = ShmLink(path, cells) if transport == "shm" else UnixLink(path, cells)
    loop = DAppLoop(dapp, link, cells, holder, budget_us).prepare()  # before attaching: the RAN starts then
    link.open()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if http_port is not None:
        _health_server(http_port, lambda: {"dapp": dapp.name, **loop.stats.summary(), "swaps": holder.swaps_done})
    swapper = start_swapper(holder, dapp, cells, registry, model, swap_every_s, stop)
    try:
        stats = loop.run(stop, max_slots)
    finally:
        stop.set()
        link.close()
        if swapper is not None:
            swapper.join(timeout=5)
    out = {"dapp": dapp.name, "transport": transport, "budget_us": budget_us, **stats.summary(),
           "swaps": holder.swaps_done}
    if json_out is not None:
        json_out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    typer.echo(json.dumps(out))


@app.command("emulate")
@handle_errors
def emulate(cells: Annotated[int, typer.Option(help="Cells per slot record.")] = 8,
            rate_hz: Annotated[float, typer.Option(help="Slots per second (1000: 1 ms slots, 2000: 0.5 ms).")]
            = 1000.0,
            duration: Annotated[float, typer.Option(help="Seconds of slots to publish.")] = 10.0,
            transport: Annotated[str, typer.Option(help="shm or unix.")] = "shm",
            path: Annotated[str, typer.Option(help="Shared-memory name, or the Unix socket path.")] = "ranml-e3",
            seed: Annotated[int, typer.Option(help="Load generator seed.")] = 1,
            json_out: Annotated[Path | None, typer.Option("--json", help="Write the RAN-side counters here.")]
            = None) -> None:
    """Play the DU: publish slot records with synthetic load, count the controls coming back."""
    from ranml.dapp import RanEmulator

    emulator = RanEmulator(cells, rate_hz, transport, path, seed).open()
    typer.echo(json.dumps({"e3": path, "transport": transport, "ready": True}), err=True)
    try:
        stats = emulator.run(duration)
    finally:
        emulator.close()
    out = {"transport": transport, "rate_hz": rate_hz, **stats.summary()}
    if json_out is not None:
        json_out.write_text(json.dumps(out, indent=2), encoding="utf-8")
    typer.echo(json.dumps(out))
