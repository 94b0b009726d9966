"""What the runtimes share: stopping on a signal whenever it lands, the HTTP server on a thread."""

import asyncio
import json
import os
import signal
import threading
import urllib.request

import pytest

from ranml.host import ThreadedHttpServer, run_until_signalled, stop_on_signals


def _signal_soon(delay_s: float) -> None:
    asyncio.get_running_loop().call_later(delay_s, os.kill, os.getpid(), signal.SIGTERM)


def test_a_signal_after_start_stops_and_returns_what_stop_returns():
    events = []

    async def start():
        events.append("started")
        return "ctx"

    async def stop():
        events.append("stopped")
        return {"ok": True}

    async def main():
        _signal_soon(0.05)
        return await run_until_signalled(start, stop, lambda ctx: events.append(f"on_started {ctx}"))

    assert asyncio.run(main()) == {"ok": True}
    assert events == ["started", "on_started ctx", "stopped"]


def test_a_signal_during_start_cancels_it_and_still_stops():
    events = []

    async def start():
        events.append("starting")
        await asyncio.sleep(10)  # e.g. waiting for a subscription answer
        events.append("started")

    async def stop():
        events.append("stopped")
        return "done"

    async def main():
        _signal_soon(0.05)
        return await asyncio.wait_for(run_until_signalled(start, stop), 5)

    assert asyncio.run(main()) == "done"
    assert events == ["starting", "stopped"]


def test_a_failing_start_is_stopped_then_raised():
    events = []

    async def start():
        raise ValueError("no port")

    async def stop():
        events.append("stopped")

    with pytest.raises(ValueError, match="no port"):
        asyncio.run(run_until_signalled(start, stop))
    assert events == ["stopped"]


def test_stop_on_signals_sets_the_event_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals(threading.Event()) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(2)
    assert signal.getsignal(signal.SIGTERM) is before


def test_threaded_http_server_answers_and_closes():
    server = ThreadedHttpServer(lambda method, path, body: (200, {"path": path}), 0, "127.0.0.1")
    port = server.start()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as r:
        assert json.loads(r.read()) == {"path": "/status"}
    server.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2)
