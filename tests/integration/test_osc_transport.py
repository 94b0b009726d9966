"""The ricxappframe (librmr) transport adapter: runs only where librmr_si.so is installed."""

import asyncio

import pytest

from ranml.xapp.osc_transport import OscRmrTransport, librmr_available

REASON = librmr_available()
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(REASON is not None, reason=f"librmr_si.so is not installed here ({REASON}); "
                                                          "the OSC RMR adapter needs it")]


def test_librmr_transport_talks_to_the_pure_python_endpoint():
    from conftest import free_port
    from ranml.protocols.rmr import RmrMessage
    from ranml.protocols.rmr.endpoint import RmrEndpoint

    async def main():
        peer_port, osc_port = free_port(), free_port()
        async with RmrEndpoint(peer_port, name="127.0.0.1") as peer:
            osc = OscRmrTransport(osc_port)
            await osc.start()
            try:
                await peer.send_to(f"127.0.0.1:{osc_port}", RmrMessage(12050, b"ping", meid="gnb_1"))
                got = await osc.receive(timeout=5)
                assert got is not None and got.payload == b"ping" and got.meid == "gnb_1"
                await osc.rts(got, RmrMessage(12051, b"pong"))
                reply = await peer.receive(5)
                assert reply is not None and reply.mtype == 12051 and reply.payload == b"pong"
            finally:
                await osc.close()

    asyncio.run(main())


