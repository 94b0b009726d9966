"""Which RMR transport an xApp process runs on, and how it finds its routes."""

from __future__ import annotations

from ranml.errors import ConfigError
from ranml.protocols.rmr import seed_route_table
from ranml.xapp.osc_transport import OscRmrTransport
from ranml.xapp.transport import RmrTransport, Transport

__all__ = ["open_transport"]


def open_transport(kind: str, port: int, name: str | None = None) -> Transport:
    """The RMR transport an xApp process runs on, routed as the OSC platform sets it up.

    ``python``: ranml's endpoint, routes from ``RMR_SEED_RT`` (a seed route table file);
    ``librmr``: the OSC library through ricxappframe, which reads ``RMR_SEED_RT`` / ``RMR_RTG_SVC``
    itself.

    Raises
    ------
    ConfigError
        ``kind`` is neither.
    """
    if kind == "librmr":
        return OscRmrTransport(port, src_id=name)
    if kind == "python":
        rmr = RmrTransport(port, name=name)
        rmr.endpoint.routes = seed_route_table(rmr.endpoint.own_names)
        return rmr
    raise ConfigError(f"transport {kind!r}: use python or librmr")
