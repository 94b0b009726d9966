"""``ranml dapp``: run a dApp on an E3 link, or emulate the RAN side of that link."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import handle_errors, setup_logging

app = typer.Typer(help="dApp runtime: slot-level loops over an E3 link (shared memory or Unix socket).",
                  no_args_is_help=True)


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
        http_host: Annotated[str, typer.Option(help="Bind address of the health/status endpoints.")] = "127.0.0.1",
        json_out: Annotated[Path | None, typer.Option("--json", help="Write the loop statistics here.")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run a dApp until the RAN side stops sending slots (or SIGTERM)."""
    import threading

    from ranml.config import parse_mapping
    from ranml.dapp import DAppRunner, DAppSettings, load_dapp
    from ranml.host import stop_on_signals

    setup_logging(verbose)
    settings = parse_mapping(DAppSettings, {
        "cells": cells, "transport": transport, "path": path, "budget_us": budget_us, "registry": registry,
        "model": model, "swap_every_s": swap_every_s, "max_slots": max_slots, "http_port": http_port,
        "http_host": http_host}, source="ranml dapp run options")
    runner = DAppRunner(load_dapp(ref), settings)
    with stop_on_signals(threading.Event()) as stop:
        out = runner.serve(stop)
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
