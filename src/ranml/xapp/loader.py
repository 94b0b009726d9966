"""Find an :class:`~ranml.xapp.app.XApp` from a ``module:attribute`` reference."""

from __future__ import annotations

import importlib

from ranml.errors import ConfigError
from ranml.xapp.app import XApp

__all__ = ["load_app"]

BUILTIN = {"traffic-steering": "ranml.xapp.apps.traffic_steering:app",
           "energy-saving": "ranml.xapp.apps.energy_saving:app"}


def load_app(ref: str) -> XApp:
    """Import ``module:attribute`` (or a built-in app name) and check it is an XApp."""
    target = BUILTIN.get(ref, ref)
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"app reference {ref!r} must look like 'package.module:app' "
                          f"or be one of {sorted(BUILTIN)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} for app {ref!r}: {exc}") from None
    app = getattr(module, attr, None)
    if not isinstance(app, XApp):
        raise ConfigError(f"{target} is {type(app).__name__}, not a ranml.xapp.XApp")
    return app
