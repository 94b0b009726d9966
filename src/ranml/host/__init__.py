"""What the app runtimes (xApp, rApp, dApp, e2sim) share to run as a process.

The small HTTP server of their health, status and metrics endpoints (bound where the runtime's
settings say), running until SIGTERM/SIGINT whenever the signal lands, cancelling background tasks,
loading an app from a ``module:attribute`` reference, and the typed state its lifespan yields.
"""

from ranml.host.app_state import AppInfo, ConfigT, HoldsAppState, StateT, check_app_settings, register_once
from ranml.host.http import Handler, Text, ThreadedHttpServer, TinyHttpServer
from ranml.host.refs import load_object
from ranml.host.signals import on_stop_signals, run_until_signalled, stop_on_signals
from ranml.host.tasks import cancel_and_wait

__all__ = [
    "AppInfo",
    "ConfigT",
    "Handler",
    "HoldsAppState",
    "StateT",
    "Text",
    "ThreadedHttpServer",
    "TinyHttpServer",
    "cancel_and_wait",
    "check_app_settings",
    "load_object",
    "on_stop_signals",
    "register_once",
    "run_until_signalled",
    "stop_on_signals",
]
