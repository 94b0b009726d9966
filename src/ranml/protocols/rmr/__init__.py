"""RMR (RIC Message Router) SI95 wire format, compatible with librmr 4.9.

:class:`RmrMessage` is one message; :func:`encode` / :func:`decode` convert it to and from the
bytes of one TCP frame; :class:`FrameReader` cuts frames out of a byte stream.
"""

from ranml.protocols.rmr.endpoint import RmrEndpoint, RmrSendError
from ranml.protocols.rmr.frame import (
    CALL_FLAG,
    HEADER_LEN,
    PREFIX_LEN,
    RmrFrameError,
    RmrMessage,
    decode,
    encode,
)
from ranml.protocols.rmr.framer import FrameReader
from ranml.protocols.rmr.mtypes import MTYPES, mtype_name
from ranml.protocols.rmr.routes import RouteTable, parse_route_table, seed_route_table

__all__ = [
    "CALL_FLAG",
    "HEADER_LEN",
    "MTYPES",
    "PREFIX_LEN",
    "FrameReader",
    "RmrEndpoint",
    "RmrFrameError",
    "RmrMessage",
    "RmrSendError",
    "RouteTable",
    "decode",
    "encode",
    "mtype_name",
    "parse_route_table",
    "seed_route_table",
]
