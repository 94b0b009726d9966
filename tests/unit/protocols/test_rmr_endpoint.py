"""Two pure-Python RMR endpoints talking over real TCP sockets on 127.0.0.1."""

import asyncio
import struct

import pytest

from conftest import free_port
from ranml.protocols.rmr import RmrMessage
from ranml.protocols.rmr.endpoint import RmrEndpoint, RmrSendError
from ranml.protocols.rmr.routes import parse_route_table


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_routed_send_rts_and_health_check():
    async def main():
        pa, pb = free_port(), free_port()
        routes = parse_route_table(f"newrt|start\nrte|12050|127.0.0.1:{pb}\nnewrt|end\n")
        async with RmrEndpoint(pa, routes, name="127.0.0.1") as a, RmrEndpoint(pb, name="127.0.0.1") as b:
            assert await a.send(RmrMessage(mtype=12050, payload=b"kpm", sub_id=7, meid="gnb_1")) == 1
            got = await b.receive(timeout=5)
            assert (got.mtype, got.payload, got.sub_id, got.meid, got.src) == (12050, b"kpm", 7, "gnb_1",
                                                                                f"127.0.0.1:{pa}")
            await b.rts(got, RmrMessage(mtype=12051, payload=b"ack"))
            back = await a.receive(timeout=5)
            assert (back.mtype, back.payload, back.sub_id, back.meid) == (12051, b"ack", 7, "gnb_1")
            reply = await a.call(RmrMessage(mtype=100, payload=b""), endpoint=f"127.0.0.1:{pb}", timeout=5)
            assert reply.mtype == 101 and reply.payload == b"OK\n" and b.stats.health_checks == 1

    run(main())


def test_call_is_answered_and_matched_by_xid():
    async def main():
        pa, pb = free_port(), free_port()
        async with RmrEndpoint(pa, name="127.0.0.1") as a, RmrEndpoint(pb, name="127.0.0.1") as b:
            async def responder():
                req = await b.receive(timeout=5)
                assert req.is_call and req.call_id >= 1
                await b.rts(req, RmrMessage(mtype=req.mtype + 1, payload=req.payload[::-1]))

            task = asyncio.create_task(responder())
            reply = await a.call(RmrMessage(mtype=30000, payload=b"abc", xid=b"tx-1"), f"127.0.0.1:{pb}", 5)
            await task
            assert reply.payload == b"cba" and reply.xid.rstrip(b"\0") == b"tx-1" and not reply.is_call
            with pytest.raises(RmrSendError, match="no reply to call"):
                await a.call(RmrMessage(mtype=30000), f"127.0.0.1:{pb}", timeout=0.2)

    run(main())


def test_rts_falls_back_to_the_arrival_connection():
    async def main():
        pa, pb = free_port(), free_port()
        async with RmrEndpoint(pa, name="no-such-host.invalid") as a, RmrEndpoint(pb, name="127.0.0.1") as b:
            await a.send_to(f"127.0.0.1:{pb}", RmrMessage(mtype=1, payload=b"x"))
            got = await b.receive(timeout=5)
            await b.rts(got, RmrMessage(mtype=2, payload=b"y"))
            back = await a.receive(timeout=5)
            assert back.payload == b"y" and b.stats.rts_fallbacks == 1

    run(main())


def test_bad_length_closes_only_that_connection_and_no_route_is_an_error():
    async def main():
        pb = free_port()
        async with RmrEndpoint(pb, name="127.0.0.1") as b:
            _, w = await asyncio.open_connection("127.0.0.1", pb)
            w.write(struct.pack("<I", 10) + struct.pack(">I", 10) + b"$" + b"\0" * 60)
            await w.drain()
            for _ in range(100):
                if b.stats.closed_bad_length:
                    break
                await asyncio.sleep(0.01)
            assert b.stats.closed_bad_length == 1
            w.close()
            a = RmrEndpoint(free_port(), name="127.0.0.1")
            await a.start()
            await a.send_to(f"127.0.0.1:{pb}", RmrMessage(mtype=5))  # the endpoint still works
            assert (await b.receive(timeout=5)).mtype == 5
            with pytest.raises(RmrSendError, match="no route for mtype 9"):
                await a.send(RmrMessage(mtype=9))
            with pytest.raises(RmrSendError, match="cannot reach"):
                await a.send_to(f"127.0.0.1:{free_port()}", RmrMessage(mtype=9))
            await a.close()

    run(main())
