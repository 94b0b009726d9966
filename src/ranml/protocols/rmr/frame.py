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
from collections.abc import Callable
from dataclasses import dataclass, field

from ranml.errors import RanmlError

__all__ = ["CALL_FLAG", "HEADER_LEN", "PREFIX_LEN", "RmrFrameError", "RmrMessage", "TextCache", "decode", "decode_at",
           "encode", "frame_length"]

PREFIX_LEN = 50
HEADER_LEN = 280
CALL_FLAG = 0x04
MARKER = 0x24  # '$'
MAX_FRAME = 64 * 1024 * 1024  # larger lengths are treated as implausible (a broken or hostile peer)

_XID, _SID, _SRC, _MEID, _SRCIP = 32, 32, 64, 32, 64
_HEAD = struct.Struct(">iii32s32s64s32s4s16s")  # mtype, plen, ver, xid, sid, src, meid, pad, ts
_LENS = struct.Struct(">iiiii")  # len0..len3, sub_id
_FLAGS = struct.Struct("<i")
_NATIVE_LEN, _NETWORK_LEN = struct.Struct("<i"), struct.Struct(">i")
# the whole 280-byte header in one unpack: flags (host order) as raw bytes, the rest big-endian
_WHOLE_HEADER = struct.Struct(">iii32s32s64s32s4s16s4siiiii64s")


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


class TextCache:
    """Decoded NUL-terminated names by their raw bytes: a peer sends the same src/srcip/meid again and again."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.known: dict[bytes, str] = {}

    def __call__(self, raw: bytes) -> str:
        """The text of ``raw`` up to its first NUL."""
        text = self.known.get(raw)
        if text is None:
            text = _text(raw)
            if len(self.known) >= self.size:
                self.known.clear()
            self.known[raw] = text
        return text


def _fixed(value: str | bytes, size: int, name: str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    if len(data) > size - (0 if name == "xid" else 1):
        raise RmrFrameError(f"{name} is {len(data)} bytes; at most {size if name == 'xid' else size - 1} fit")
    return data.ljust(size, b"\x00")


_NATIVE_U, _NETWORK_U = struct.Struct("<I"), struct.Struct(">I")  # the two copies of the total length
_PREFIX_REST = bytes([MARKER]) + b"\x00" * (PREFIX_LEN - 9)  # '$', then unused up to byte 50
_ZERO_SID, _ZERO_PAD, _ZERO_TS = b"\x00" * _SID, b"\x00" * 4, b"\x00" * 16


def encode(msg: RmrMessage, src: str | None = None, srcip: str | None = None) -> bytes:
    """The bytes of one frame for ``msg`` (prefix, 280-byte header, trace, d1, d2, payload).

    ``src`` / ``srcip`` replace the message's own (an endpoint stamps its name this way).
    """
    d1 = msg.d1 if len(msg.d1) == 4 else (msg.d1 + b"\x00" * 4)[:4]
    trace, d2, payload = msg.trace, msg.d2, msg.payload
    total = PREFIX_LEN + HEADER_LEN + len(trace) + 4 + len(d2) + len(payload)
    head = _HEAD.pack(msg.mtype, len(payload), msg.rmr_ver, _fixed(msg.xid, _XID, "xid"), _ZERO_SID,
                      _fixed(msg.src if src is None else src, _SRC, "src"), _fixed(msg.meid, _MEID, "meid"),
                      _ZERO_PAD, _ZERO_TS)
    tail = (_FLAGS.pack(msg.flags) + _LENS.pack(HEADER_LEN, len(trace), 4, len(d2), msg.sub_id)
            + _fixed(msg.srcip if srcip is None else srcip, _SRCIP, "srcip"))
    return b"".join((_NATIVE_U.pack(total), _NETWORK_U.pack(total), _PREFIX_REST, head, tail, trace, d1, d2,
                     payload))


def frame_length(prefix: bytes | bytearray, offset: int = 0) -> int:
    """Total frame length announced by the 9+ bytes of a frame at ``offset`` (librmr's rule)."""
    if len(prefix) - offset < 9:
        raise RmrFrameError("need at least 9 bytes to read a frame length")
    native = _NATIVE_LEN.unpack_from(prefix, offset)[0]
    if prefix[offset + 8] == MARKER:
        network = _NETWORK_LEN.unpack_from(prefix, offset + 4)[0]
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
    total = frame_length(data)
    if len(data) < total:
        raise RmrFrameError(f"truncated frame: {len(data)} of {total} bytes")
    return decode_at(data, 0, total)


def decode_at(data: bytes | bytearray, offset: int, total: int,
              names: Callable[[bytes], str] = _text) -> RmrMessage:
    """Parse the complete ``total``-byte frame at ``offset`` of a receive buffer (no copy of the frame).

    ``names`` turns the NUL-padded name fields into text (a :class:`TextCache` saves the decodes
    of a connection's repeated src, srcip and meid).

    Raises
    ------
    RmrFrameError
        Implausible lengths, or sections that do not fit.
    """
    h = offset + PREFIX_LEN
    end = offset + total
    (mtype, plen, ver, xid, _sid, src, meid, _pad, _ts, raw_flags, len0, len1, len2, len3, sub_id,
     srcip) = _WHOLE_HEADER.unpack_from(data, h)
    if len0 < HEADER_LEN or min(len1, len2, len3, plen) < 0:
        raise RmrFrameError(f"bad section lengths len0={len0} len1={len1} len2={len2} len3={len3} plen={plen}")
    flags = int.from_bytes(raw_flags, "little", signed=True)
    start = h + len0
    trace = data[start : start + len1]
    d1 = data[start + len1 : start + len1 + len2]
    d2 = data[start + len1 + len2 : start + len1 + len2 + len3]
    pstart = start + len1 + len2 + len3
    if pstart + plen > end:
        raise RmrFrameError(f"payload of {plen} bytes at offset {pstart - offset} overruns the {total}-byte frame")
    return RmrMessage(mtype, bytes(data[pstart : pstart + plen]), sub_id, xid, names(meid), names(src),
                      names(srcip), flags, bytes(d1), bytes(trace), bytes(d2), ver)
