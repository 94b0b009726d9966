"""Protocol performance: the pure-Python RMR endpoint on loopback and the KPM indication codecs.

* rts round trip: a sender process and an echo process (``ranml rmr echo``) over 127.0.0.1,
  300-byte payloads, one message in flight, p50/p99;
* one-way throughput: the sender streams messages, the receiver counts them;
* the frame codec alone (encode+decode per second) as the in-process baseline.

    python benchmarks/protocols.py [--quick] --json OUT.json

* KPM indication (header format 1 + message format 1, 10 measurements × 1 record, the fact
  sheet's reference message): encode+decode and decode-only per second on one core, for the
  reference codecs (asn1tools for KPM, pycrate for E2AP) and the fast paths, plus a whole RIC
  indication decode (E2AP + KPM).

Targets: RTT p99 ≤ 1 ms; indication decode ≥ 6,000/s per core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ranml.protocols.rmr import RmrMessage, decode, encode
from ranml.protocols.rmr.endpoint import RmrEndpoint
from ranml.protocols.rmr.routes import parse_route_table


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_echo(port: int) -> subprocess.Popen:
    env = {**os.environ, "RMR_SRC_ID": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "ranml.cli.app", "rmr", "echo", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and "listening" in proc.stderr.readline()
    return proc


async def rtt(echo_port: int, count: int, payload: bytes) -> np.ndarray:
    routes = parse_route_table(f"newrt|start\nrte|12050|127.0.0.1:{echo_port}\nnewrt|end\n")
    out = np.empty(count)
    async with RmrEndpoint(free_port(), routes, name="127.0.0.1") as ep:
        for i in range(count + 100):
            t0 = time.perf_counter_ns()
            await ep.send(RmrMessage(mtype=12050, payload=payload))
            reply = await ep.receive(timeout=2)
            assert reply is not None
            if i >= 100:  # warm-up
                out[i - 100] = (time.perf_counter_ns() - t0) / 1e3
    return out


async def throughput(count: int, payload: bytes) -> float:
    rx_port = free_port()
    # The receiver's queue holds the whole run: this measures transport, not the app's drain rate.
    async with RmrEndpoint(rx_port, name="127.0.0.1", queue_size=count + 1) as rx, \
            RmrEndpoint(free_port(), name="127.0.0.1") as tx:
        target = f"127.0.0.1:{rx_port}"
        t0 = time.perf_counter()

        async def drain() -> None:
            for _ in range(count):
                assert await rx.receive(timeout=5) is not None

        consumer = asyncio.create_task(drain())
        for _ in range(count):
            await tx.send_to(target, RmrMessage(mtype=12050, payload=payload))
        await consumer
        return count / (time.perf_counter() - t0)


def codec_rate(payload: bytes, n: int) -> float:
    msg = RmrMessage(mtype=12050, payload=payload, sub_id=7, meid="gnb_1", src="h:1", srcip="1.2.3.4:1")
    t0 = time.perf_counter()
    for _ in range(n):
        decode(encode(msg))
    return n / (time.perf_counter() - t0)


MEASUREMENTS = ("RRU.PrbUsedDl", "RRU.PrbUsedUl", "RRU.PrbAvailDl", "RRU.PrbAvailUl", "RRU.PrbTotDl",
                "DRB.UEThpDl", "DRB.UEThpUl", "RRC.ConnMean", "PEE.AvgPower", "PEE.Energy")


def kpm_rates(n: int) -> dict[str, float]:
    """Per-second rates of the KPM codecs on the same indication (best of 3 runs each)."""
    from ranml.protocols import e2ap
    from ranml.protocols.e2sm import IndicationHeader, IndicationMessage, KpmCodec

    header = IndicationHeader(1_795_000_000.0, sender_name="gnb-001", sender_type="gNB", vendor_name="ranml")
    message = IndicationMessage(((120, 31, 273, 273, 43.9, 15321.5, 2298.2, 31, 452.1, 0.000126),),
                                MEASUREMENTS, 1000)

    def rate(fn: object, count: int) -> float:
        best = 0.0
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(count):
                fn()  # type: ignore[operator]
            best = max(best, count / (time.perf_counter() - t0))
        return best

    out: dict[str, float] = {}
    for label, codec, e2ap_decode in (("reference", KpmCodec(3, fast=False), e2ap.decode_reference),
                                      ("fast", KpmCodec(3), e2ap.decode)):
        h, m = codec.encode_indication_header(header), codec.encode_indication_message(message)
        pdu = e2ap.encode(e2ap.Indication(1001, 7, 2, 1, h, m, 5))
        out[f"{label}_per_s"] = rate(lambda c=codec: (c.decode_indication_header(c.encode_indication_header(header)),
                                                      c.decode_indication_message(c.encode_indication_message(
                                                          message))), n)
        out[f"{label}_decode_per_s"] = rate(lambda c=codec, h=h, m=m: (c.decode_indication_header(h),
                                                                       c.decode_indication_message(m)), n)

        def full(c: KpmCodec = codec, pdu: bytes = pdu, dec: Any = e2ap_decode) -> None:
            ind = dec(pdu)
            assert isinstance(ind, e2ap.Indication)
            c.decode_indication_header(ind.header)
            c.decode_indication_message(ind.message)

        out[f"{label}_ric_indication_decode_per_s"] = rate(full, n)
        out["message_bytes"] = len(m)
        out["ric_indication_bytes"] = len(pdu)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    payload = os.urandom(300)
    n = 500 if args.quick else 5000
    echo_port = free_port()
    echo = start_echo(echo_port)
    try:
        lat = asyncio.run(rtt(echo_port, n, payload))
    finally:
        echo.terminate()
        echo.wait(timeout=10)
    tput = asyncio.run(throughput(n * 4, payload))
    codec = codec_rate(payload, n * 4)
    result = {"rmr": {"rtt_p50_us": float(np.percentile(lat, 50)), "rtt_p99_us": float(np.percentile(lat, 99)),
                      "throughput_msgs_per_s": tput, "codec_encode_decode_per_s": codec, "payload_bytes": 300,
                      "messages": n}}
    result["kpm"] = kpm_rates(n // 2 if args.quick else n)
    r = result["rmr"]
    print(f"{'measure':36s} {'value':>12s}")
    print(f"{'rts round trip p50 (us)':36s} {r['rtt_p50_us']:12.1f}")
    print(f"{'rts round trip p99 (us)':36s} {r['rtt_p99_us']:12.1f}   target <= 1000 ({r['rtt_p99_us'] / 1000:.2f}x)")
    print(f"{'one-way throughput (msg/s)':36s} {r['throughput_msgs_per_s']:12.0f}")
    print(f"{'codec encode+decode (msg/s)':36s} {r['codec_encode_decode_per_s']:12.0f}   "
          f"(endpoint/codec: {r['throughput_msgs_per_s'] / r['codec_encode_decode_per_s']:.2f})")
    k = result["kpm"]
    print(f"\nKPM indication ({k['message_bytes']:.0f}-byte message, {k['ric_indication_bytes']:.0f}-byte E2AP PDU), "
          "per second on one core:")
    print(f"{'':36s} {'reference':>12s} {'fast':>12s} {'ratio':>8s}")
    for key, label in (("per_s", "KPM header+message encode+decode"), ("decode_per_s", "KPM header+message decode"),
                       ("ric_indication_decode_per_s", "RIC indication decode (E2AP+KPM)")):
        ref, fast = k[f"reference_{key}"], k[f"fast_{key}"]
        print(f"{label:36s} {ref:12.0f} {fast:12.0f} {fast / ref:7.1f}x")
    print(f"{'target: indication decode >= 6000/s':36s} {'':12s} {k['fast_ric_indication_decode_per_s']:12.0f}   "
          f"({k['fast_ric_indication_decode_per_s'] / 6000:.2f}x the target)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
