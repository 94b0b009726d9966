"""The bytes split learning sends between site and server: tensors with a small JSON header.

One message is ``u32 header length | header JSON | raw array bytes``; the header names the
command's fields and, per array, its dtype and shape. gRPC carries it as an opaque payload
(:mod:`ranml.federated.split_runtime`); a malformed message raises :class:`FederationError`, never
anything else.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from ranml.errors import FederationError

__all__ = ["pack", "unpack"]

_DTYPES = {"float32", "float64", "int64"}


def pack(fields: dict[str, Any], arrays: list[np.ndarray] | tuple[np.ndarray, ...] = ()) -> bytes:
    """One message: JSON-able ``fields`` and ``arrays`` (float32, float64 or int64)."""
    specs = []
    blobs = []
    for a in arrays:
        a = np.ascontiguousarray(a)
        if str(a.dtype) not in _DTYPES:
            raise FederationError(f"cannot send arrays of dtype {a.dtype}")
        specs.append({"dtype": str(a.dtype), "shape": list(a.shape)})
        blobs.append(a.tobytes())
    header = json.dumps({"fields": fields, "arrays": specs}).encode()
    return struct.pack("<I", len(header)) + header + b"".join(blobs)


def unpack(data: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The fields and arrays of a message made by :func:`pack`.

    Raises
    ------
    FederationError
        The message is truncated, its header is not valid JSON, or the arrays do not add up.
    """
    try:
        (n,) = struct.unpack_from("<I", data, 0)
        header = json.loads(data[4 : 4 + n])
        fields, specs = dict(header["fields"]), list(header["arrays"])
        offset = 4 + n
        arrays = []
        for spec in specs:
            dtype = np.dtype(spec["dtype"])
            if str(dtype) not in _DTYPES:
                raise ValueError(f"dtype {dtype}")
            shape = tuple(int(d) for d in spec["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            size = count * dtype.itemsize
            if count < 0 or offset + size > len(data):
                raise ValueError("arrays run past the end of the message")
            arrays.append(np.frombuffer(data, dtype, count, offset).reshape(shape).copy())
            offset += size
        if offset != len(data):
            raise ValueError(f"{len(data) - offset} bytes left over")
    except (struct.error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise FederationError(f"malformed split learning message: {exc}") from None
    return fields, arrays
