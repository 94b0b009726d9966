"""Fast path for the hot E2AP message: RIC Indication (procedure 5), encode and decode.

Writes exactly the aligned-PER bytes pycrate's E2AP module writes for the indications
:func:`ranml.protocols.e2ap.encode` builds (IE order 29, 5, 15, [27], 28, 25, 26; procedure
criticality ``ignore``, IE criticality ``reject``) and reads any RIC Indication whose IEs it knows.
Anything else raises :class:`Unsupported` and the caller uses pycrate; the unit tests compare both
byte for byte on generated messages (hypothesis).
"""

from __future__ import annotations

__all__ = ["Unsupported", "decode_indication", "encode_indication"]

_TYPES = ("report", "insert")


class Unsupported(Exception):  # noqa: N818 - internal signal, never escapes the codec
    """Not covered by the fast path; use pycrate."""


def _length(n: int) -> bytes:
    if n < 128:
        return bytes((n,))
    if n < 16384:
        return bytes((0x80 | (n >> 8), n & 0xFF))
    raise Unsupported("fragmented length")


def _ie(ie_id: int, value: bytes) -> bytes:
    return ie_id.to_bytes(2, "big") + b"\x00" + _length(len(value)) + value  # criticality reject


def encode_indication(requestor_id: int, instance_id: int, ran_function_id: int, action_id: int,
                      sn: int | None, indication_type: str, header: bytes, message: bytes) -> bytes:
    """APER bytes of an E2AP-PDU carrying a RICindication."""
    if not (0 <= requestor_id <= 65535 and 0 <= instance_id <= 65535 and 0 <= ran_function_id <= 4095
            and 0 <= action_id <= 255 and (sn is None or 0 <= sn <= 65535) and indication_type in _TYPES):
        raise Unsupported("value out of range")
    ies = [_ie(29, b"\x00" + requestor_id.to_bytes(2, "big") + instance_id.to_bytes(2, "big")),
           _ie(5, ran_function_id.to_bytes(2, "big")), _ie(15, bytes((action_id,)))]
    if sn is not None:
        ies.append(_ie(27, sn.to_bytes(2, "big")))
    ies += [_ie(28, b"\x00" if indication_type == "report" else b"\x40"),
            _ie(25, _length(len(header)) + header), _ie(26, _length(len(message)) + message)]
    body = b"\x00" + len(ies).to_bytes(2, "big") + b"".join(ies)
    return b"\x00\x05\x40" + _length(len(body)) + body


class _Cursor:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise Unsupported("truncated")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def length(self) -> int:
        first = self.take(1)[0]
        if first < 0x80:
            return first
        if first < 0xC0:
            return ((first & 0x3F) << 8) | self.take(1)[0]
        raise Unsupported("fragmented length")


def decode_indication(data: bytes) -> tuple[int, int, int, int, int | None, str, bytes, bytes]:
    """(requestor, instance, RAN function, action, SN, type, header, message) of a RIC Indication."""
    if len(data) < 4 or data[0] != 0x00 or data[1] != 0x05 or data[2] & 0x3F or data[2] >> 6 == 3:
        raise Unsupported("not a RIC indication")
    c = _Cursor(data, 3)
    body = _Cursor(c.take(c.length()))
    if body.take(1)[0] != 0:
        raise Unsupported("extension")
    count = int.from_bytes(body.take(2), "big")
    found: dict[int, bytes] = {}
    for _ in range(count):
        ie_id = int.from_bytes(body.take(2), "big")
        crit = body.take(1)[0]
        if crit & 0x3F or crit >> 6 == 3 or ie_id in found:
            raise Unsupported("criticality or repeated IE")
        found[ie_id] = body.take(body.length())
    if set(found) - {29, 5, 15, 27, 28, 25, 26} or not {29, 5, 15, 28, 25, 26} <= set(found):
        raise Unsupported("IE set")
    req, fn, action, kind = found[29], found[5], found[15], found[28]
    if len(req) != 5 or req[0] != 0 or len(fn) != 2 or len(action) != 1 or kind not in (b"\x00", b"\x40"):
        raise Unsupported("IE content")
    ran_function = int.from_bytes(fn, "big")
    if ran_function > 4095:
        raise Unsupported("RAN function id")
    sn = None
    if 27 in found:
        if len(found[27]) != 2:
            raise Unsupported("SN")
        sn = int.from_bytes(found[27], "big")
    octets = []
    for ie_id in (25, 26):
        cur = _Cursor(found[ie_id])
        value = cur.take(cur.length())
        if cur.pos != len(cur.data):
            raise Unsupported("trailing bytes in an octet string IE")
        octets.append(value)
    return (int.from_bytes(req[1:3], "big"), int.from_bytes(req[3:5], "big"), ran_function, action[0], sn,
            _TYPES[kind[0] >> 6], octets[0], octets[1])
