"""Find an :class:`~ranml.xapp.app.XApp` from a ``module:attribute`` reference."""

from __future__ import annotations

from ranml.host import load_object
from ranml.xapp.app import XApp

__all__ = ["load_app"]

BUILTIN = {"traffic-steering": "ranml.xapp.apps.traffic_steering:app",
           "energy-saving": "ranml.xapp.apps.energy_saving:app"}


def load_app(ref: str) -> XApp:
    """Import ``module:attribute`` (or a built-in app name) and check it is an XApp."""
    return load_object(ref, BUILTIN, XApp, "app", "ranml.xapp.XApp")
