"""Protocol performance: ranml's pure-Python RMR next to the real librmr, and the KPM indication codecs.

RMR, 300-byte payloads over 127.0.0.1, every row a sender process and a receiver process
(``benchmarks/rmr_peer.py``), side by side with the real librmr 4.9.4 driven through ricxappframe
3.2.2 (how a Python OSC xApp uses it) when ``librmr_si.so`` is on the loader path
(``.ci/build-librmr``):

* one-way throughput: the sender streams N messages through a wormhole, the receiver counts them
  (rate from its first to its last message; lost = sent - received): ranml -> ranml,
  librmr -> librmr, and the mixed rows librmr -> ranml and ranml -> librmr;
* round trip: one message in flight to an echo that returns it to sender, p50/p99;
* the frame codec alone (encode+decode per second) as the in-process baseline.

    python benchmarks/protocols.py [--quick] --json OUT.json

* KPM indication (header format 1 + message format 1, 10 measurements × 1 record, the fact
  sheet's reference message): encode+decode and decode-only per second on one core, for the
  reference codecs (asn1tools for KPM, pycrate for E2AP) and the fast paths, plus a whole RIC
  indication decode (E2AP + KPM).

Targets: ranml one-way throughput >= 50 % of librmr's; RTT p99 <= 1 ms; indication decode >= 6,000/s
per core.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ranml.protocols.rmr import RmrMessage, decode, encode

PEER = Path(__file__).with_name("rmr_peer.py")


C_PEER = Path(__file__).with_name("rmr_c_peer.c")


def build_c_peer(out_dir: Path) -> Path | None:
    """Compile ``rmr_c_peer.c`` against the librmr on LD_LIBRARY_PATH (its source tree has rmr.h)."""
    for lib_dir in filter(None, os.environ.get("LD_LIBRARY_PATH", "").split(":")):
        lib = Path(lib_dir)
        include = Path(os.environ.get("RANML_RMR_INCLUDE", lib.parent / "src" / "rmr" / "common" / "include"))
        if (lib / "librmr_si.so").exists() and (include / "rmr.h").exists():
            exe = out_dir / "rmr_c_peer"
            done = subprocess.run(["gcc", "-O2", "-o", str(exe), str(C_PEER), f"-I{include}", f"-L{lib}", "-lrmr_si",
                                   "-lpthread"], capture_output=True, text=True, check=False)
            return exe if done.returncode == 0 else None
    return None


def _peer(role: str, impl: str, port: int, count: int = 0, target: str = "",
          c_peer: Path | None = None) -> subprocess.Popen[str]:
    """Start one benchmark peer: ``rmr_peer.py`` (ranml, librmr via ricxappframe) or the C peer (librmr-c)."""
    env = {**os.environ, "RMR_SRC_ID": "127.0.0.1", "RMR_RTG_SVC": "-1"}
    if impl == "librmr-c":
        assert c_peer is not None
        argv = [str(c_peer), role, str(port)] + ([str(count)] if role == "recv" else [target, str(count), "300"])
    else:
        argv = [sys.executable, str(PEER), role, "--impl", impl, "--port", str(port), "--count", str(count)]
        if target:
            argv += ["--target", target]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _line(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"benchmark peer {proc.args} ended without output")
    return dict(json.loads(line))


def one_way(rx: str, tx: str, count: int, c_peer: Path | None = None) -> dict[str, float]:
    """Messages per second delivered from a ``tx`` process to an ``rx`` process (ranml, librmr, librmr-c)."""
    rx_port, tx_port = free_port(), free_port()
    receiver = _peer("recv", rx, rx_port, count, c_peer=c_peer)
    sender = None
    try:
        assert _line(receiver).get("ready")
        sender = _peer("send", tx, tx_port, count, f"127.0.0.1:{rx_port}", c_peer)
        sent = _line(sender)
        got = _line(receiver)
    finally:
        for proc in (sender, receiver):
            if proc is not None:
                proc.kill()
                proc.wait(timeout=10)
    return {"rate": float(got["rate"]), "sender_rate": float(sent["rate"]), "sent": count,
            "received": int(got["received"])}


def round_trip(impl: str, count: int) -> dict[str, float]:
    """p50/p99 (us) of one-in-flight round trips from ``impl`` to an ``impl`` echo."""
    echo_port = free_port()
    echo = _peer("echo", impl, echo_port)
    try:
        assert _line(echo).get("ready")
        ping = _peer("ping", impl, free_port(), count, f"127.0.0.1:{echo_port}")
        result = _line(ping)
        ping.wait(timeout=30)
    finally:
        echo.kill()
        echo.wait(timeout=10)
    return {"p50_us": float(result["p50_us"]), "p99_us": float(result["p99_us"])}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    from ranml.xapp.osc_transport import librmr_available

    payload = os.urandom(300)
    n = 500 if args.quick else 5000
    stream = 20_000 if args.quick else 200_000
    librmr = librmr_available() is None
    impls = ["ranml", "librmr"] if librmr else ["ranml"]
    import tempfile

    build_dir = Path(tempfile.mkdtemp(prefix="ranml-rmr-bench-"))
    c_peer = build_c_peer(build_dir) if librmr else None
    pairs = [("ranml", "ranml")] + ([("librmr", "librmr"), ("librmr", "ranml"), ("ranml", "librmr")] if librmr else [])
    if c_peer is not None:
        pairs += [("librmr-c", "librmr-c"), ("librmr-c", "ranml"), ("ranml", "librmr-c")]
    repeats = 1 if args.quick else 3  # this 2-core machine is noisy: each row is the median of its runs
    one = {}
    for tx, rx in pairs:
        runs = sorted((one_way(rx, tx, stream, c_peer) for _ in range(repeats)), key=lambda r: r["rate"])
        one[f"{tx}->{rx}"] = {**runs[len(runs) // 2], "runs": [r["rate"] for r in runs]}
    rtts = {impl: round_trip(impl, n) for impl in impls}
    codec = codec_rate(payload, n * 4)
    result: dict[str, Any] = {"rmr": {"one_way": one, "round_trip": rtts, "codec_encode_decode_per_s": codec,
                                      "payload_bytes": 300, "stream_messages": stream, "librmr": librmr}}
    result["kpm"] = kpm_rates(n // 2 if args.quick else n)
    print(f"RMR, 300-byte payloads, 127.0.0.1, sender and receiver processes ({stream} messages, "
          f"median of {repeats})")
    print("librmr: librmr 4.9.4 through ricxappframe 3.2.2 (a Python xApp); librmr-c: librmr called from C")
    print(f"{'one-way sender -> receiver':32s} {'delivered/s':>12s} {'lost':>7s} {'vs librmr':>10s} {'vs C':>7s}")
    base = one.get("librmr->librmr", {}).get("rate")
    native = one.get("librmr-c->librmr-c", {}).get("rate")
    for key, row in one.items():
        ratio = f"{row['rate'] / base:9.2f}x" if base else "       n/a"
        vs_c = f"{row['rate'] / native:6.2f}x" if native else "    n/a"
        print(f"{key:32s} {row['rate']:12.0f} {row['sent'] - row['received']:7d} {ratio} {vs_c}")
    if base:
        ours = one["ranml->ranml"]["rate"]
        print(f"{'target: ranml >= 0.50x librmr':32s} {'':12s} {'':7s} {ours / base:9.2f}x "
              + (f"{ours / native:6.2f}x" if native else ""))
    else:
        print("(librmr_si.so not found: build it with .ci/build-librmr and put it on LD_LIBRARY_PATH for the "
              "side-by-side rows)")
    print(f"\n{'round trip (one in flight)':32s} {'p50 us':>12s} {'p99 us':>9s}")
    for impl, row in rtts.items():
        print(f"{impl + ' <-> ' + impl:32s} {row['p50_us']:12.1f} {row['p99_us']:9.1f}")
    print(f"{'target: ranml p99 <= 1000 us':32s} {'':12s} {rtts['ranml']['p99_us'] / 1000:8.2f}x")
    print(f"{'codec encode+decode (msg/s)':32s} {codec:12.0f}")
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
