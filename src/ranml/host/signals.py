"""Run an app runtime until SIGTERM/SIGINT, whatever moment the signal arrives."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

__all__ = ["on_stop_signals", "run_until_signalled", "stop_on_signals"]

Started = TypeVar("Started")
Result = TypeVar("Result")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_until_signalled(start: Callable[[], Awaitable[Started]], stop: Callable[[], Awaitable[Result]],
                              on_started: Callable[[Started], None] | None = None) -> Result:
    """``await start()``, wait for SIGTERM/SIGINT, ``await stop()`` and return what it returns.

    A signal during ``start()`` cancels it and stops at once (a pod deleted while it subscribes
    still shuts down cleanly); a failing ``start()`` is stopped too (whatever it opened is closed),
    then its error is raised. ``stop`` must cope with a partial start.
    """
    stop_asked = asyncio.Event()
    async with on_stop_signals(stop_asked.set):
        starting: asyncio.Task[Started] = asyncio.ensure_future(start())
        waiting = asyncio.ensure_future(stop_asked.wait())
        await asyncio.wait([starting, waiting], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # a signal during start-up
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        elif starting.exception() is not None:
            waiting.cancel()
            await stop()
            raise starting.exception()  # type: ignore[misc]
        else:
            if on_started is not None:
                on_started(starting.result())
            await waiting
        return await stop()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Within the block, SIGTERM/SIGINT set ``stop`` (for a synchronous loop); the old handlers come back after."""
    previous: dict[signal.Signals, Any] = {}

    def handler(signum: int, frame: object) -> None:
        stop.set()

    for sig in STOP_SIGNALS:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@asynccontextmanager
async def on_stop_signals(callback: Callable[[], None]) -> AsyncIterator[None]:
    """Within the block, SIGTERM/SIGINT call ``callback`` on the running event loop (a run that also ends by itself)."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, callback)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
