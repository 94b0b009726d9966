"""Fast path for the hot KPM messages: indication header and indication message format 1.

A hand-written aligned-PER reader/writer for exactly the shapes ranml's KPM module defines
(``kpm.asn``), producing the same bytes and values as the asn1tools reference codec; the unit tests
check that byte for byte on generated messages (hypothesis). Anything outside the common shape
(extension bits set, measurement labels other than ``noLabel``, numeric measurement ids in
messages, fragmented lengths, strings outside their root size) raises :class:`Unsupported`, and the
caller falls back to the reference codec, which decodes it or raises :class:`E2smError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["Unsupported", "decode_header", "decode_message", "encode_header", "encode_message"]

Value = int | float | None
Record = tuple[Value, ...]


class Unsupported(Exception):  # noqa: N818 - internal signal, never escapes the codec
    """The fast path does not cover this input; use the reference codec."""


@functools.cache
def _real_codec() -> tuple[Callable[[float], bytes], Callable[[bytearray], float]]:
    from asn1tools.codecs.ber import decode_real, encode_real  # the reference's own REAL rules

    return encode_real, decode_real


class _Writer:
    __slots__ = ("acc", "buf", "n")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.acc = 0
        self.n = 0

    def bits(self, value: int, count: int) -> None:
        acc = (self.acc << count) | value
        n = self.n + count
        buf = self.buf
        while n >= 8:
            n -= 8
            buf.append((acc >> n) & 0xFF)
        self.acc = acc & ((1 << n) - 1)
        self.n = n

    def align(self) -> None:
        if self.n:
            self.buf.append((self.acc << (8 - self.n)) & 0xFF)
            self.acc = self.n = 0

    def octets(self, data: bytes) -> None:
        self.align()
        self.buf += data

    def length(self, n: int) -> None:
        self.align()
        if n < 128:
            self.buf.append(n)
        elif n < 16384:
            self.buf += bytes((0x80 | (n >> 8), n & 0xFF))
        else:
            raise Unsupported("fragmented length")

    def result(self) -> bytes:
        self.align()
        return bytes(self.buf)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def bits(self, count: int) -> int:
        pos = self.pos
        start, end = pos >> 3, (pos + count + 7) >> 3
        if end > len(self.data):
            raise Unsupported("truncated")
        chunk = int.from_bytes(self.data[start:end], "big")
        self.pos = pos + count
        return (chunk >> ((end - start) * 8 - (pos & 7) - count)) & ((1 << count) - 1)

    def align(self) -> None:
        self.pos = (self.pos + 7) & ~7

    def octets(self, n: int) -> bytes:
        self.align()
        start = self.pos >> 3
        if start + n > len(self.data):
            raise Unsupported("truncated")
        self.pos += 8 * n
        return self.data[start:start + n]

    def byte(self) -> int:
        self.align()
        start = self.pos >> 3
        if start >= len(self.data):
            raise Unsupported("truncated")
        self.pos += 8
        return self.data[start]

    def length(self) -> int:
        first = self.byte()
        if first < 0x80:
            return first
        if first < 0xC0:
            return ((first & 0x3F) << 8) | self.byte()
        raise Unsupported("fragmented length")


def _uint_bytes(value: int) -> int:
    return 1 if value == 0 else (value.bit_length() + 7) // 8


# -- indication message format 1 ---------------------------------------------------------------
def encode_message(records: tuple[Record, ...], names: tuple[str, ...], granularity_ms: int | None,
                   incomplete: tuple[bool, ...]) -> bytes:
    """APER of an E2SM-KPM-IndicationMessage, format 1 (same bytes as the reference)."""
    if not records or len(records) > 65535 or (names and len(names) > 65535):
        raise Unsupported("record count")
    w = _Writer()
    # message ext, formats CHOICE ext + index 0 (2 root alternatives), format-1 ext, two optionals
    w.bits(0b0000 << 2 | (1 if names else 0) << 1 | (1 if granularity_ms is not None else 0), 6)
    w.align()
    w.bits(len(records) - 1, 16)
    encode_real = None
    for i, record in enumerate(records):
        flag = i < len(incomplete) and incomplete[i]
        w.bits(1 if flag else 0, 2)  # item ext bit, incompleteFlag present
        if not record:
            raise Unsupported("empty record")
        w.length(len(record))
        for v in record:
            if v is None:
                w.bits(0b010, 3)  # ext 0, alternative 2 (noValue)
            elif isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 4294967295:
                n = _uint_bytes(v)
                w.bits(n - 1, 5)  # ext 0, alternative 0, 2-bit octet count - 1
                w.octets(v.to_bytes(n, "big"))
            else:
                if encode_real is None:
                    encode_real = _real_codec()[0]
                w.bits(0b001, 3)  # ext 0, alternative 1 (real)
                w.length(len(data := bytes(encode_real(float(v)))))  # type: ignore[arg-type]
                w.buf += data
        if flag:
            w.bits(0, 1)  # ENUMERATED { true, ... }: extension bit only
    if names:
        w.align()
        w.bits(len(names) - 1, 16)
        for name in names:
            raw = name.encode("ascii", "strict") if name.isascii() else b""
            if not 1 <= len(raw) <= 150:
                raise Unsupported("measurement name")
            w.bits(len(raw) - 1, 12)  # item ext, type CHOICE ext + index 0, size ext, 8-bit length - 1
            w.octets(raw)
            w.length(1)  # one label
            w.bits(0b00_1 << 21, 24)  # item ext, label ext, noLabel present, 20 absent optionals, enum ext
    if granularity_ms is not None:
        if not 1 <= granularity_ms <= 4294967295:
            raise Unsupported("granularity")
        n = _uint_bytes(granularity_ms - 1)
        w.bits(n - 1, 2)
        w.octets((granularity_ms - 1).to_bytes(n, "big"))
    return w.result()


def decode_message(data: bytes) -> tuple[tuple[Record, ...], tuple[str, ...], int | None, tuple[bool, ...]]:
    """Records, measurement names, granularity and incomplete flags of an indication message."""
    r = _Reader(data)
    head = r.bits(6)
    if head >> 2:  # any extension bit or a format other than 1
        raise Unsupported("extension or format")
    has_names, has_gran = head & 2, head & 1
    r.align()
    count = r.bits(16) + 1
    decode_real = None
    records: list[Record] = []
    flags: list[bool] = []
    for _ in range(count):
        bits = r.bits(2)
        if bits & 2:
            raise Unsupported("item extension")
        n = r.length()
        if n == 0:
            raise Unsupported("empty record")
        values: list[Value] = []
        for _ in range(n):
            choice = r.bits(3)
            if choice == 0:
                size = r.bits(2) + 1
                values.append(int.from_bytes(r.octets(size), "big"))
            elif choice == 2:
                values.append(None)
            elif choice == 1:
                if decode_real is None:
                    decode_real = _real_codec()[1]
                try:
                    values.append(decode_real(bytearray(r.octets(r.length()))))
                except Unsupported:
                    raise
                except Exception:  # the reference's REAL reader raises several types; let it report
                    raise Unsupported("real") from None
            else:
                raise Unsupported("record item")
        if bits & 1 and r.bits(1):
            raise Unsupported("flag extension")
        records.append(tuple(values))
        flags.append(bool(bits & 1))
    names: list[str] = []
    if has_names:
        r.align()
        for _ in range(r.bits(16) + 1):
            bits = r.bits(12)
            if bits >> 8:  # item ext, choice ext / measID, size ext
                raise Unsupported("measurement type")
            names.append(r.octets((bits & 0xFF) + 1).decode("ascii"))
            if r.length() != 1 or r.bits(24) != 1 << 21:
                raise Unsupported("measurement label")
    granularity = None
    if has_gran:
        size = r.bits(2) + 1
        granularity = int.from_bytes(r.octets(size), "big") + 1
    return tuple(records), tuple(names), granularity, tuple(flags)


# -- indication header format 1 ----------------------------------------------------------------
# (optional field, asn1tools size range, length bits when the range is below 256)
_STRINGS = (("fileFormatversion", 15, 4), ("senderName", 400, None), ("senderType", 8, 4), ("vendorName", 32, 6))


def encode_header(stamp: bytes, fields: dict[str, str]) -> bytes:
    """APER of an E2SM-KPM-IndicationHeader, format 1."""
    w = _Writer()
    present = [name in fields for name, _, _ in _STRINGS]
    w.bits(sum(p << (3 - i) for i, p in enumerate(present)), 7)  # 3 ext bits (+ 1-alternative CHOICE)
    w.octets(stamp)
    for (name, upper, nbits), here in zip(_STRINGS, present, strict=True):
        if not here:
            continue
        raw = fields[name].encode("ascii") if fields[name].isascii() else b"\xff" * 999
        if len(raw) > upper:
            raise Unsupported("string size")
        if nbits is None:
            w.bits(0, 1)
            w.align()
            w.bits(len(raw), 16)
        else:
            w.bits(len(raw), 1 + nbits)
        if raw:
            w.octets(raw)
    return w.result()


def decode_header(data: bytes, stamp_octets: int) -> tuple[bytes, dict[str, str]]:
    """Collection start time octets and the optional string fields of an indication header."""
    r = _Reader(data)
    head = r.bits(7)
    if head >> 4:
        raise Unsupported("extension")
    stamp = r.octets(stamp_octets)
    fields: dict[str, str] = {}
    for i, (name, _, nbits) in enumerate(_STRINGS):
        if not head & (1 << (3 - i)):
            continue
        if nbits is None:
            if r.bits(1):
                raise Unsupported("size extension")
            r.align()
            n = r.bits(16)
        else:
            n = r.bits(1 + nbits)
            if n >> nbits:
                raise Unsupported("size extension")
        fields[name] = r.octets(n).decode("ascii") if n else ""
    return stamp, fields


def _check_alphabet(text: str) -> None:
    """PrintableString alphabet (the reference refuses other characters)."""
    for ch in text:
        if not (ch.isalnum() and ch.isascii()) and ch not in " '()+,-./:=?":
            raise Unsupported("alphabet")


def check_strings(values: Any) -> None:
    """Raise :class:`Unsupported` when any string is outside the PrintableString alphabet."""
    for text in values:
        _check_alphabet(text)
