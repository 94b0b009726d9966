"""One RMR SI95 frame: the 50-byte transport prefix, the 280-byte v3 header, trace, d1, d2, payload.

Layout (offsets from the start of the frame)::

    0   uint32 total length, sender's native order (little-endian on x86/arm64)
    4   uint32 total length, big-endian
    8   '$' marker (bytes 4-7 present), 9-12 zero, 13-49 unused (arbitrary)
    50  header: mtype, plen, rmr_ver (big-endian int32), xid[32], sid[32], src[64], meid[32],
        pad[4], ts[16], flags (int32, host order), len0..len3, sub_id (big-endian int32), srcip[64]
    330 trace (len1) | d1 (len2, 4 bytes; d1[0] = call id) | d2 (len3) | payload (plen)

Decoding follows librmr's receiver: the big-endian length is used unless the native one differs
(old senders), the payload starts at len0+len1+len2+len3 after the header, text fields end at
their first NUL (stale bytes after it are normal).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ranml.errors import RanmlError

__all__ = ["CALL_FLAG", "HEADER_LEN", "PREFIX_LEN", "RmrFrameError", "RmrMessage", "decode", "encode"]

PREFIX_LEN = 50
HEADER_LEN = 280
CALL_FLAG = 0x04
MARKER = 0x24  # '$'
MAX_FRAME = 64 * 1024 * 1024  # larger lengths are treated as implausible (a broken or hostile peer)

_XID, _SID, _SRC, _MEID, _SRCIP = 32, 32, 64, 32, 64
_HEAD = struct.Struct(">iii32s32s64s32s4s16s")  # mtype, plen, ver, xid, sid, src, meid, pad, ts
_LENS = struct.Struct(">iiiii")  # len0..len3, sub_id
_FLAGS = struct.Struct("<i")


class RmrFrameError(RanmlError):
    """Bytes that are not a valid RMR frame (the message says what is wrong)."""


@dataclass
class RmrMessage:
    """An RMR message as an application sees it.

    ``xid`` is kept as 32 raw bytes (``rmr_call`` matches all 32); ``d1`` as raw bytes with the
    call id in ``d1[0]``.
    """

    mtype: int
    payload: bytes = b""
    sub_id: int = -1
    xid: bytes = b""
    meid: str = ""
    src: str = ""
    srcip: str = ""
    flags: int = 0
    d1: bytes = b"\x00\x00\x00\x00"
    trace: bytes = b""
    d2: bytes = b""
    rmr_ver: int = 3
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def call_id(self) -> int:
        """``d1[0]``: non-zero for replies to ``rmr_call``."""
        return self.d1[0] if self.d1 else 0

    @property
    def is_call(self) -> bool:
        """Whether the call flag is set (a request made with ``rmr_call``)."""
        return bool(self.flags & CALL_FLAG)


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace")


def _fixed(value: str | bytes, size: int, name: str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    if len(data) > size - (0 if name == "xid" else 1):
        raise RmrFrameError(f"{name} is {len(data)} bytes; at most {size if name == 'xid' else size - 1} fit")
    return data.ljust(size, b"\x00")


def encode(msg: RmrMessage) -> bytes:
    """The bytes of one frame for ``msg`` (prefix, 280-byte header, trace, d1, d2, payload)."""
    d1 = msg.d1 if len(msg.d1) == 4 else (msg.d1 + b"\x00" * 4)[:4]
    body_len = HEADER_LEN + len(msg.trace) + len(d1) + len(msg.d2) + len(msg.payload)
    total = PREFIX_LEN + body_len
    prefix = struct.pack("<I", total) + struct.pack(">I", total) + bytes([MARKER]) + b"\x00" * (PREFIX_LEN - 9)
    head = _HEAD.pack(msg.mtype, len(msg.payload), msg.rmr_ver, _fixed(msg.xid, _XID, "xid"), b"\x00" * _SID,
                      _fixed(msg.src, _SRC, "src"), _fixed(msg.meid, _MEID, "meid"), b"\x00" * 4, b"\x00" * 16)
    tail = (_FLAGS.pack(msg.flags) + _LENS.pack(HEADER_LEN, len(msg.trace), len(d1), len(msg.d2), msg.sub_id)
            + _fixed(msg.srcip, _SRCIP, "srcip"))
    return b"".join((prefix, head, tail, msg.trace, d1, msg.d2, msg.payload))


def frame_length(prefix: bytes) -> int:
    """Total frame length announced by the first 9+ bytes of a frame (librmr's rule)."""
    if len(prefix) < 9:
        raise RmrFrameError("need at least 9 bytes to read a frame length")
    native = struct.unpack_from("<i", prefix, 0)[0]
    if prefix[8] == MARKER:
        network = struct.unpack_from(">i", prefix, 4)[0]
        length = native if native != network else network
    else:
        length = native
    if length < PREFIX_LEN + HEADER_LEN or length > MAX_FRAME:
        raise RmrFrameError(f"implausible frame length {length}")
    return length


def decode(frame: bytes | memoryview) -> RmrMessage:
    """Parse one complete frame.

    Raises
    ------
    RmrFrameError
        Truncated frame, implausible lengths, or sections that do not fit.
    """
    data = bytes(frame)
    total = frame_length(data[:9])
    if len(data) < total:
        raise RmrFrameError(f"truncated frame: {len(data)} of {total} bytes")
    h = PREFIX_LEN
    mtype, plen, ver, xid, _sid, src, meid, _pad, _ts = _HEAD.unpack_from(data, h)
    flags = _FLAGS.unpack_from(data, h + 192)[0]
    len0, len1, len2, len3, sub_id = _LENS.unpack_from(data, h + 196)
    if len0 < HEADER_LEN or min(len1, len2, len3, plen) < 0:
        raise RmrFrameError(f"bad section lengths len0={len0} len1={len1} len2={len2} len3={len3} plen={plen}")
    srcip = data[h + 216 : h + 216 + _SRCIP]
    start = h + len0
    trace = data[start : start + len1]
    d1 = data[start + len1 : start + len1 + len2]
    d2 = data[start + len1 + len2 : start + len1 + len2 + len3]
    pstart = start + len1 + len2 + len3
    if pstart + plen > total:
        raise RmrFrameError(f"payload of {plen} bytes at offset {pstart} overruns the {total}-byte frame")
    return RmrMessage(mtype=mtype, payload=data[pstart : pstart + plen], sub_id=sub_id, xid=xid, meid=_text(meid),
                      src=_text(src), srcip=_text(srcip), flags=flags, d1=d1, trace=trace, d2=d2, rmr_ver=ver)
