"""The ricxappframe (librmr) transport adapter against the real ``librmr_si.so`` and ricxappframe 3.2.2.

``.ci/run`` builds librmr from ``../shared/vendor/`` (the unchanged OSC source) and puts it on
``LD_LIBRARY_PATH``, so these tests run there; elsewhere they skip naming what is missing.
Every librmr context gets its own control port (librmr's default 4561 would be shared by all).
"""

import asyncio
import contextlib
import os

import pytest

from conftest import free_port
from ranml.protocols.rmr import RmrMessage
from ranml.protocols.rmr.endpoint import RmrEndpoint
from ranml.xapp.osc_transport import OscRmrTransport, librmr_available

REASON = librmr_available()
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(REASON is not None, reason=f"librmr_si.so is not installed here ({REASON}); "
                                                          "build it as .ci/run does (shared/vendor README)")]


@pytest.fixture(autouse=True)
def _restore_rmr_environment():
    """librmr is configured through RMR_* variables; keep them from leaking into later tests."""
    before = {k: v for k, v in os.environ.items() if k.startswith("RMR_")}
    yield
    for key in [k for k in os.environ if k.startswith("RMR_")]:
        del os.environ[key]
    os.environ.update(before)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def table(*records: str) -> str:
    return "newrt|start\n" + "".join(r + "\n" for r in records) + "newrt|end\n"


@contextlib.asynccontextmanager
async def librmr_beside_a_peer(*records: str, **settings):
    """A started librmr transport and a pure-Python endpoint; ``{peer}`` in a route record is the peer's port."""
    peer_port, osc_port = free_port(), free_port()
    async with RmrEndpoint(peer_port, name="127.0.0.1") as peer:
        osc = OscRmrTransport(osc_port, routes=table(*(r.format(peer=peer_port) for r in records)),
                              src_id="127.0.0.1", **settings)
        await osc.start()
        try:
            yield peer, osc, peer_port, osc_port
        finally:
            await osc.close()


def test_librmr_and_the_pure_python_endpoint_talk_both_ways():
    async def main():
        async with librmr_beside_a_peer("rte|12010|127.0.0.1:{peer}") as (peer, osc, peer_port, osc_port):
            assert osc.ready and osc.name == f"127.0.0.1:{osc_port}"
            # pure Python -> librmr (wormhole), librmr rts -> pure Python
            await peer.send_to(f"127.0.0.1:{osc_port}", RmrMessage(12050, b"ping", sub_id=7, meid="gnb_1",
                                                                   xid=b"x-1"))
            got = await osc.receive(timeout=5)
            assert got is not None and (got.mtype, got.payload, got.sub_id, got.meid, got.xid) == (
                12050, b"ping", 7, "gnb_1", b"x-1")
            assert got.src == f"127.0.0.1:{peer_port}"
            await osc.rts(got, RmrMessage(12051, b"pong"))
            reply = await peer.receive(5)
            assert (reply.mtype, reply.payload, reply.meid, reply.xid.rstrip(b"\0"), reply.sub_id) == (
                12051, b"pong", "gnb_1", b"x-1", 7)
            assert reply.src == f"127.0.0.1:{osc_port}"
            # librmr routed send (seed table) -> pure Python, which returns to sender
            assert await osc.send(RmrMessage(12010, b"sub" * 100, meid="gnb_2", sub_id=0)) == 1
            req = await peer.receive(5)
            assert (req.mtype, req.payload, req.meid, req.sub_id) == (12010, b"sub" * 100, "gnb_2", 0)
            await peer.rts(req, RmrMessage(12011, b"resp"))
            back = await osc.receive(timeout=5)
            assert (back.mtype, back.payload, back.meid) == (12011, b"resp", "gnb_2")
            # librmr wormhole -> pure Python; no route for an unknown type is an error, not a hang
            await osc.send_to(f"127.0.0.1:{peer_port}", RmrMessage(30000, b"wh"))
            assert (await peer.receive(5)).payload == b"wh"
            with pytest.raises(Exception, match="state"):
                await osc.send(RmrMessage(4242, b"nowhere"))
            assert await osc.receive(timeout=0.2) is None

    run(main())


def test_librmr_call_is_answered_by_a_pure_python_rts():
    async def main():
        async with librmr_beside_a_peer("rte|30010|127.0.0.1:{peer}", "rte|100|127.0.0.1:{peer}") as (peer, osc, _, _):

            async def answer():
                request = await peer.receive(5)
                assert request is not None and request.payload == b"ping"
                await peer.rts(request, RmrMessage(30011, b"pong"))

            responder = asyncio.create_task(answer())
            reply = await osc.call(RmrMessage(30010, b"ping"), timeout=5)
            await responder
            assert (reply.mtype, reply.payload) == (30011, b"pong")
            # the RIC health check (RIC_HEALTH_CHECK_REQ 100) is answered by the endpoint itself
            health = await osc.call(RmrMessage(100, b"ping"), timeout=5)
            assert (health.mtype, health.payload) == (101, b"OK\n")
            assert await peer.receive(0.2) is None

    run(main())


def test_pure_python_call_is_answered_by_librmr_rts():
    async def main():
        async with librmr_beside_a_peer(ready_timeout_s=2) as (peer, osc, _, osc_port):

            async def answer():
                request = await osc.receive(timeout=5)
                await osc.rts(request, RmrMessage(30011, request.payload.upper()))

            responder = asyncio.create_task(answer())
            reply = await peer.call(RmrMessage(30010, b"are you there"), endpoint=f"127.0.0.1:{osc_port}",
                                    timeout=5)
            await responder
            assert (reply.mtype, reply.payload) == (30011, b"ARE YOU THERE")

    run(main())


def test_librmr_requests_its_route_table_from_a_route_manager():
    """Request mode (RMR_RTG_SVC=host:port): librmr asks, the Route Manager answers, librmr acks and routes."""

    async def main():
        rm_port, peer_port, osc_port, ctl = free_port(), free_port(), free_port(), free_port()
        async with RmrEndpoint(rm_port, name="127.0.0.1") as rtmgr, RmrEndpoint(peer_port, name="127.0.0.1") as peer:
            osc = OscRmrTransport(osc_port, rtg_svc=f"127.0.0.1:{rm_port}", ctl_port=ctl, src_id="127.0.0.1",
                                  ready_timeout_s=0.2)
            await osc.start()
            try:
                request = await rtmgr.receive(10)
                assert request is not None and request.mtype == 21  # RMRRM_REQ_TABLE
                assert request.payload.startswith(f"127.0.0.1:{ctl}".encode()) or b"ts=" in request.payload
                await rtmgr.rts(request, RmrMessage(20, f"newrt|start|rm-1\nrte|12040|127.0.0.1:{peer_port}\n"
                                                        "newrt|end|1\n".encode()))
                ack = await rtmgr.receive(10)
                assert ack is not None and ack.mtype == 22 and ack.payload.startswith(b"OK rm-1")
                for _ in range(100):
                    if osc._rmr.rmr_ready(osc._ctx):
                        break
                    await asyncio.sleep(0.05)
                await osc.send(RmrMessage(12040, b"control", meid="gnb_1"))
                got = await peer.receive(5)
                assert got is not None and (got.mtype, got.payload, got.meid) == (12040, b"control", "gnb_1")
            finally:
                await osc.close()

    run(main())


def test_malformed_bytes_to_librmr_do_not_stop_it():
    async def main():
        async with librmr_beside_a_peer(ready_timeout_s=2) as (peer, osc, _, osc_port):
            _, writer = await asyncio.open_connection("127.0.0.1", osc_port)
            writer.write(b"\x00\x00\x00\x10garbage-garbage!" + os.urandom(200))
            await writer.drain()
            writer.close()
            await peer.send_to(f"127.0.0.1:{osc_port}", RmrMessage(12050, b"after"))
            got = None
            for _ in range(10):
                got = await osc.receive(timeout=0.5)
                if got is not None:
                    break
            assert got is not None and got.payload == b"after"

    run(main())


def test_bad_settings_are_refused_naming_them(tmp_path):
    from ranml.errors import RanmlError

    with pytest.raises(RanmlError, match="routes or seed_file"):
        OscRmrTransport(1, routes=table(), seed_file=tmp_path / "x.rt")
    with pytest.raises(RanmlError, match="line 2: message type"):
        OscRmrTransport(1, routes="newrt|start\nrte|zz|a:1\nnewrt|end\n")

    async def main():
        with pytest.raises(RanmlError, match="seed_file"):
            await OscRmrTransport(free_port(), seed_file=tmp_path / "missing.rt").start()

    run(main())
