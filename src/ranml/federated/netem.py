"""A TCP proxy that degrades one site's link to the server: delay, a bandwidth cap, loss.

A SuperNode connects to the proxy instead of the SuperLink; every byte each way goes through it:

* ``delay_ms``: one-way delay added to every chunk, each way (so a request-reply pays it twice);
* ``bandwidth_kbps``: each direction is paced to this rate (a token bucket of one chunk);
* ``loss``: probability that a chunk is lost. On TCP a lost segment is retransmitted, so what the
  application sees of loss is a stall; the proxy models the bad case an unreliable backhaul gives,
  a connection reset, and the Flower client has to reconnect and retry.

It runs as its own process (``python -m ranml.federated.netem``) so that pacing does not share a
GIL with training.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass

__all__ = ["LinkSpec", "main", "serve"]

log = logging.getLogger("ranml.federated.netem")
CHUNK = 16384


@dataclass(frozen=True)
class LinkSpec:
    """How a link is degraded (all zero: a plain relay)."""

    delay_ms: float = 0.0
    bandwidth_kbps: float = 0.0
    loss: float = 0.0


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: LinkSpec,
                rng: random.Random) -> None:
    try:
        while data := await reader.read(CHUNK):
            if link.loss and rng.random() < link.loss:
                log.info("dropping a connection (loss %.3f)", link.loss)
                writer.transport.abort()
                return
            if link.delay_ms:
                await asyncio.sleep(link.delay_ms / 1000.0)
            if link.bandwidth_kbps:
                await asyncio.sleep(len(data) * 8 / (link.bandwidth_kbps * 1000.0))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(listen_port: int, target_port: int, link: LinkSpec, seed: int = 0,
                host: str = "127.0.0.1") -> None:
    """Relay ``host:listen_port`` to ``host:target_port`` through ``link`` until cancelled."""
    rng = random.Random(seed)

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pump(client_reader, server_writer, link, rng),
                             _pump(server_reader, client_writer, link, rng))

    server = await asyncio.start_server(handle, host, listen_port)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    """``python -m ranml.federated.netem --listen P --target Q [--delay-ms D] [--bandwidth-kbps B] [--loss L]``."""
    parser = argparse.ArgumentParser(description="Relay a TCP port through a degraded link.")
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--bandwidth-kbps", type=float, default=0.0)
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    link = LinkSpec(args.delay_ms, args.bandwidth_kbps, args.loss)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.target, link, args.seed))


if __name__ == "__main__":
    main()
