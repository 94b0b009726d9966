"""dApp runtime (inside the CU/DU, < 10 ms loops): an E3-style link, a RAN-side emulator, the loop.

``DApp`` is the app object (window, horizon, decision), ``DAppLoop`` runs it on an E3 link
(``ShmLink`` over shared memory, ``UnixLink`` over a Unix socket) within a per-slot budget,
``RanEmulator`` plays the DU, ``DAppRunner`` runs a dApp from validated ``DAppSettings``
(``ranml dapp run``). Built-in: ``prb-reservation``.
"""

from ranml.dapp.e3 import ShmLink, UnixLink
from ranml.dapp.emulator import RanEmulator
from ranml.dapp.loop import DApp, DAppLoop, LinearTrendForecaster, LoopStats, ModelHolder, OnnxSlotForecaster
from ranml.dapp.runner import DAppRunner, DAppSettings

__all__ = ["DApp", "DAppLoop", "DAppRunner", "DAppSettings", "LinearTrendForecaster", "LoopStats", "ModelHolder",
           "OnnxSlotForecaster", "RanEmulator", "ShmLink", "UnixLink", "load_dapp"]

BUILTIN = {"prb-reservation": "ranml.dapp.apps.prb_reservation:app"}


def load_dapp(ref: str) -> DApp:
    """Import ``module:attribute`` (or a built-in dApp name) and check it is a :class:`DApp`."""
    from ranml.host import load_object

    return load_object(ref, BUILTIN, DApp, "dApp", "ranml.dapp.DApp")
