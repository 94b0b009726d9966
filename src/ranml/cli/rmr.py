"""``ranml rmr``: RMR debugging tools (echo responder, sender with round-trip times)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Annotated

import typer

from ranml.cli._common import handle_errors, setup_logging

app = typer.Typer(help="RMR debugging tools, wire-compatible with librmr.", no_args_is_help=True)


@app.command("echo")
@handle_errors
def echo(port: Annotated[int, typer.Option(help="Listen port.")] = 4560,
         name: Annotated[str | None, typer.Option(help="Name in src (default RMR_SRC_ID or host name).")] = None,
         count: Annotated[int, typer.Option(help="Exit after this many messages (0: run until SIGTERM).")] = 0) -> None:
    """Answer every message by return-to-sender with mtype+1 and the same payload."""
    from ranml.protocols.rmr import RmrEndpoint, RmrMessage

    setup_logging(False)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with RmrEndpoint(port, name=name) as ep:
            typer.echo(json.dumps({"listening": ep.src}), err=True)
            answered = 0
            while not stop.is_set() and (count == 0 or answered < count):
                msg = await ep.receive(timeout=0.2)
                if msg is None:
                    continue
                await ep.rts(msg, RmrMessage(mtype=msg.mtype + 1, payload=msg.payload))
                answered += 1

    asyncio.run(main())


@app.command("send")
@handle_errors
def send(mtype: Annotated[int, typer.Option(help="Message type.")],
         payload_hex: Annotated[str, typer.Option(help="Payload as hex.")] = "",
         count: Annotated[int, typer.Option(help="Messages to send (one at a time, each waits for its reply).")] = 1,
         port: Annotated[int, typer.Option(help="Own listen port (replies come here).")] = 4570,
         sub_id: Annotated[int, typer.Option(help="Subscription id (-1: none).")] = -1,
         name: Annotated[str | None, typer.Option(help="Name in src (default RMR_SRC_ID or host name).")] = None,
         timeout: Annotated[float, typer.Option(help="Seconds to wait for each reply.")] = 2.0) -> None:
    """Send by the RMR_SEED_RT route table, wait for replies, print JSON with round-trip times."""
    import numpy as np

    from ranml.errors import RanmlError
    from ranml.protocols.rmr import RmrEndpoint, RmrMessage, seed_route_table

    setup_logging(False)
    try:
        payload = bytes.fromhex(payload_hex)
    except ValueError:
        raise RanmlError(f"--payload-hex {payload_hex!r} is not hex") from None

    async def main() -> dict[str, object]:
        ep = RmrEndpoint(port, name=name)
        ep.routes = seed_route_table(ep.own_names)
        async with ep:
            rtts, replies = [], 0
            for i in range(count):
                t0 = time.perf_counter()
                await ep.send(RmrMessage(mtype=mtype, payload=payload, sub_id=sub_id, xid=f"send-{i}".encode()))
                reply = await ep.receive(timeout=timeout)
                if reply is not None:
                    replies += 1
                    rtts.append((time.perf_counter() - t0) * 1e6)
            arr = np.array(rtts) if rtts else np.array([float("nan")])
            return {"sent": count, "replies": replies, "rtt_p50_us": float(np.percentile(arr, 50)),
                    "rtt_p99_us": float(np.percentile(arr, 99))}

    typer.echo(json.dumps(asyncio.run(main())))
