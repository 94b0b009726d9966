"""One side of an RMR speed test, on ranml's pure-Python endpoint or on the real librmr (ricxappframe).

Run by ``benchmarks/protocols.py`` as its own process, so that every row has a sender process and
a receiver process as xApps do. Prints one JSON line.

    python benchmarks/rmr_peer.py recv --impl ranml|librmr --port P --count N
    python benchmarks/rmr_peer.py send --impl ranml|librmr --port P --target HOST:PORT --count N --size S
    python benchmarks/rmr_peer.py echo --impl ranml|librmr --port P
    python benchmarks/rmr_peer.py ping --impl ranml|librmr --port P --target HOST:PORT --count N --size S

``recv`` times from the first to the last of ``count`` messages; ``ping`` sends one message at a
time to an ``echo`` (which returns it to sender) and reports each round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import numpy as np

MTYPE = 12050


def ready(**info: object) -> None:
    print(json.dumps({"ready": True, **info}), flush=True)


# -- librmr (through ricxappframe's binding, as a Python OSC xApp uses it) ---------------------
def librmr_context(port: int) -> tuple[object, object]:
    os.environ.setdefault("RMR_SRC_ID", "127.0.0.1")
    os.environ["RMR_RTG_SVC"] = "-1"
    from ricxappframe.rmr import rmr

    ctx = rmr.rmr_init(str(port).encode(), 65536, 0x00)
    if not ctx:
        raise SystemExit(f"rmr_init failed on {port}")
    return rmr, ctx


def librmr_recv(port: int, count: int) -> dict[str, float]:
    rmr, ctx = librmr_context(port)
    ready()
    sbuf = None
    got, first, last = 0, 0.0, 0.0
    while got < count:
        sbuf = rmr.rmr_torcv_msg(ctx, sbuf, 5000)
        if sbuf.contents.state != 0:
            if sbuf.contents.state == 12 and got:  # timed out: the sender stopped early
                break
            continue
        if got == 0:
            first = time.perf_counter()
        got += 1
        last = time.perf_counter()
    elapsed = last - first
    return {"received": got, "rate": (got - 1) / elapsed if elapsed > 0 else 0.0}


def librmr_send(port: int, target: str, count: int, size: int) -> dict[str, float]:
    rmr, ctx = librmr_context(port)
    whid = rmr.rmr_wh_open(ctx, target.encode())
    if whid < 0:
        raise SystemExit(f"rmr_wh_open {target} failed")
    sbuf = rmr.rmr_alloc_msg(ctx, size, payload=os.urandom(size), mtype=MTYPE)
    t0 = time.perf_counter()
    retries = 0
    for _ in range(count):
        sbuf.contents.mtype = MTYPE
        sbuf.contents.len = size
        sbuf = rmr.rmr_wh_send_msg(ctx, whid, sbuf)
        while sbuf.contents.state == 10:  # RMR_ERR_RETRY: the socket is full, try again
            retries += 1
            sbuf = rmr.rmr_wh_send_msg(ctx, whid, sbuf)
    elapsed = time.perf_counter() - t0
    time.sleep(0.5)  # let the last frames leave before the context goes
    return {"sent": count, "rate": count / elapsed, "retries": retries}


def librmr_echo(port: int) -> None:
    rmr, ctx = librmr_context(port)
    ready()
    sbuf = None
    while True:
        sbuf = rmr.rmr_torcv_msg(ctx, sbuf, 1000)
        if sbuf.contents.state == 0:
            sbuf = rmr.rmr_rts_msg(ctx, sbuf)


def librmr_ping(port: int, target: str, count: int, size: int) -> list[float]:
    rmr, ctx = librmr_context(port)
    whid = rmr.rmr_wh_open(ctx, target.encode())
    sbuf = rmr.rmr_alloc_msg(ctx, size, payload=os.urandom(size), mtype=MTYPE)
    out = []
    for i in range(count + 100):
        t0 = time.perf_counter_ns()
        sbuf.contents.mtype, sbuf.contents.len = MTYPE, size
        sbuf = rmr.rmr_wh_send_msg(ctx, whid, sbuf)
        sbuf = rmr.rmr_torcv_msg(ctx, sbuf, 2000)
        if sbuf.contents.state != 0:
            raise SystemExit(f"no echo (state {sbuf.contents.state})")
        if i >= 100:
            out.append((time.perf_counter_ns() - t0) / 1e3)
    return out


# -- ranml ---------------------------------------------------------------------------------------
async def ranml_recv(port: int, count: int) -> dict[str, float]:
    from ranml.protocols.rmr.endpoint import RmrEndpoint

    async with RmrEndpoint(port, name="127.0.0.1", queue_size=count + 1) as ep:
        ready()
        got, first, last, last_size = 0, 0.0, 0.0, 0
        while got < count:
            msg = await ep.receive(timeout=5)
            if msg is None:
                if got:
                    break
                continue
            if got == 0:
                first = time.perf_counter()
            got += 1
            last_size, last = len(msg.payload), time.perf_counter()
        elapsed = last - first
        return {"received": got, "rate": (got - 1) / elapsed if elapsed > 0 else 0.0,
                "malformed": ep.stats.malformed, "closed_bad_length": ep.stats.closed_bad_length,
                "dropped": ep.stats.dropped_queue_full, "last_size": last_size}


async def ranml_send(port: int, target: str, count: int, size: int) -> dict[str, float]:
    from ranml.protocols.rmr import RmrMessage
    from ranml.protocols.rmr.endpoint import RmrEndpoint

    async with RmrEndpoint(port, name="127.0.0.1") as ep:
        msg = RmrMessage(mtype=MTYPE, payload=os.urandom(size))
        t0 = time.perf_counter()
        for _ in range(count):
            await ep.send_to(target, msg)
        elapsed = time.perf_counter() - t0
        print(json.dumps({"sent": count, "rate": count / elapsed}), flush=True)
        await asyncio.sleep(30)  # keep the connection until the receiver is done (the caller ends this process)
        return {"sent": count, "rate": count / elapsed}


async def ranml_echo(port: int) -> None:
    from ranml.protocols.rmr.endpoint import RmrEndpoint

    async with RmrEndpoint(port, name="127.0.0.1") as ep:
        ready()
        while True:
            msg = await ep.receive(timeout=1)
            if msg is not None:
                await ep.rts(msg, msg)


async def ranml_ping(port: int, target: str, count: int, size: int) -> list[float]:
    from ranml.protocols.rmr import RmrMessage
    from ranml.protocols.rmr.endpoint import RmrEndpoint

    async with RmrEndpoint(port, name="127.0.0.1") as ep:
        msg = RmrMessage(mtype=MTYPE, payload=os.urandom(size))
        out = []
        for i in range(count + 100):
            t0 = time.perf_counter_ns()
            await ep.send_to(target, msg)
            if await ep.receive(timeout=2) is None:
                raise SystemExit("no echo")
            if i >= 100:
                out.append((time.perf_counter_ns() - t0) / 1e3)
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("role", choices=["recv", "send", "echo", "ping"])
    ap.add_argument("--impl", choices=["ranml", "librmr"], required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--target", default="")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--size", type=int, default=300)
    a = ap.parse_args()
    lib = a.impl == "librmr"
    if a.role == "recv":
        out = librmr_recv(a.port, a.count) if lib else asyncio.run(ranml_recv(a.port, a.count))
    elif a.role == "send":
        out = librmr_send(a.port, a.target, a.count, a.size) if lib else asyncio.run(
            ranml_send(a.port, a.target, a.count, a.size))
    elif a.role == "echo":
        librmr_echo(a.port) if lib else asyncio.run(ranml_echo(a.port))
        return 0
    else:
        lat = np.array(librmr_ping(a.port, a.target, a.count, a.size) if lib else asyncio.run(
            ranml_ping(a.port, a.target, a.count, a.size)))
        out = {"p50_us": float(np.percentile(lat, 50)), "p99_us": float(np.percentile(lat, 99)), "count": len(lat)}
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
