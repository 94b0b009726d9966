"""Shared plumbing for the asn1tools-based E2SM codecs: lazy compile, error wrapping."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from ranml.errors import RanmlError

__all__ = ["AsnCodec", "E2smError", "parsing"]


class E2smError(RanmlError):
    """E2SM bytes or values that cannot be encoded or decoded."""


@functools.lru_cache(maxsize=8)
def compile_module(filename: str, replacements: tuple[tuple[str, str], ...] = ()) -> Any:
    """Compile one of the package's ASN.1 modules for aligned PER (once per argument set).

    The compiled string types with an extensible size constraint are given X.691's extension
    (see :func:`_extend_string_sizes`), which asn1tools 0.169 lacks.
    """
    import asn1tools

    text = resources.files("ranml.protocols.e2sm").joinpath(filename).read_text(encoding="utf-8")
    for old, new in replacements:
        text = text.replace(old, new)
    compiled = asn1tools.compile_string(text, "per")
    _extend_string_sizes(compiled)
    return compiled


def _extend_string_sizes(compiled: Any) -> None:
    """Give this compiled module's extensible-size strings their size extension (X.691 30.5.3, 30.5.7).

    A string longer (or shorter) than the root size range sets the extension bit and carries a
    semi-constrained length, as real nodes send them (OSC e2sim's 9-character senderType against
    SIZE(0..8, ...), FlexRIC's longer names). asn1tools 0.169 raises ``NotImplementedError``
    there; the fix is bound to this module's type objects only, not to asn1tools' classes.
    """
    from asn1tools.codecs import per

    def extended(string: Any) -> None:
        root_encode, root_decode = string.encode, string.decode

        def encode(data: Any, encoder: Any) -> None:
            if string.minimum <= len(data) <= string.maximum:
                root_encode(data, encoder)  # writes the 0 extension bit itself
                return
            encoder.append_bit(1)
            string.encode_unbound(data, encoder)

        def decode(decoder: Any) -> Any:
            if decoder.read_bit():
                return string.decode_unbound(decoder)
            string.has_extension_marker = False  # the bit is read: decode the root form
            try:
                return root_decode(decoder)
            finally:
                string.has_extension_marker = True

        string.encode, string.decode = encode, decode

    seen: set[int] = set()
    stack: list[Any] = [t.type for t in compiled.types.values()] if hasattr(compiled, "types") else []
    stack += [t.type for module in getattr(compiled, "modules", {}).values() for t in module.values()]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, per.KnownMultiplierStringType):
            if node.has_extension_marker and node.number_of_bits is not None:
                extended(node)
            continue
        if isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, per.Type):
            stack.extend(v for v in vars(node).values() if isinstance(v, per.Type | list | tuple | dict))


def parsing(fn: Any) -> Any:
    """Turn any error while reading a decoded value (unexpected shape) into :class:`E2smError`."""

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any) -> Any:
        try:
            return fn(self, *args)
        except E2smError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise E2smError(f"{fn.__name__}: unexpected content ({type(exc).__name__}: {exc})") from None

    return wrapper


class AsnCodec:
    """Base class: ``_encode``/``_decode`` one named type of a lazily compiled module."""

    _filename: str = ""

    def _replacements(self) -> tuple[tuple[str, str], ...]:
        return ()

    @property
    def _asn(self) -> Any:
        return compile_module(self._filename, self._replacements())

    def _encode(self, name: str, value: Any) -> bytes:
        try:
            data: bytes = self._asn.encode(name, value, check_constraints=True)
        except Exception as exc:  # asn1tools raises several error types for out-of-range values
            raise E2smError(f"cannot encode {name}: {exc}") from None
        return data

    def _decode(self, name: str, data: bytes) -> Any:
        try:
            return self._asn.decode(name, bytes(data))
        except Exception as exc:  # malformed input must never escape as anything but E2smError
            raise E2smError(f"malformed {name} ({len(data)} bytes): {type(exc).__name__}: {exc}") from None
