"""Route tables pushed to and requested from a Route Manager stand-in, over TCP on 127.0.0.1."""

import asyncio

from conftest import free_port
from ranml.protocols.rmr import RmrMessage
from ranml.protocols.rmr.endpoint import RmrEndpoint
from ranml.protocols.rmr.rtmgr import RouteManagerClient


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


async def wait_for(predicate, timeout=5.0):
    end = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.01)


def test_push_mode_installs_a_table_split_over_messages():
    async def main():
        data, ctl = free_port(), free_port()
        async with RmrEndpoint(data, name="127.0.0.1") as ep, RmrEndpoint(free_port(), name="127.0.0.1") as rm:
            client = await RouteManagerClient(ep, ctl).start()
            try:
                for part in (b"newrt|start|t1\nrte|12050|127.0.0.1:4", b"570\nnewrt|end|1\n"):
                    await rm.send_to(f"127.0.0.1:{ctl}", RmrMessage(mtype=20, payload=part))
                await wait_for(lambda: client.tables_installed == 1)
                assert ep.routes.endpoints(12050) == ["127.0.0.1:4570"] and ep.routes.table_id == "t1"
                assert await rm.receive(timeout=0.2) is None  # push mode: no ack
            finally:
                await client.close()

    run(main())


def test_request_mode_asks_then_acks():
    async def main():
        data, ctl, rm_port = free_port(), free_port(), free_port()
        async with RmrEndpoint(data, name="127.0.0.1") as ep, RmrEndpoint(rm_port, name="127.0.0.1") as rm:
            client = await RouteManagerClient(ep, ctl, rtg_svc=f"127.0.0.1:{rm_port}", request_every_s=0.2).start()
            try:
                req = await rm.receive(timeout=5)
                assert req.mtype == 21 and req.payload.startswith(f"127.0.0.1:{data} ts=".encode())
                assert req.payload.endswith(b"\n\x00")
                await rm.rts(req, RmrMessage(mtype=20, payload=b"newrt|start|py-table-1\nrte|1|x:1\nnewrt|end|1\n"))
                ack = await rm.receive(timeout=5)
                assert ack.mtype == 22 and ack.payload == b"OK py-table-1 \n\x00"
                assert ep.routes.endpoints(1) == ["x:1"]
                await rm.rts(req, RmrMessage(mtype=20, payload=b"newrt|start|bad\nrte|zz|x:1\nnewrt|end\n"))
                nack = await rm.receive(timeout=5)
                assert nack.mtype == 22 and nack.payload.startswith(b"ERR bad ")
                assert ep.routes.endpoints(1) == ["x:1"]  # the previous table stays
            finally:
                await client.close()

    run(main())
