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
    """Compile one of the package's ASN.1 modules for aligned PER (once per argument set)."""
    import asn1tools

    text = resources.files("ranml.protocols.e2sm").joinpath(filename).read_text(encoding="utf-8")
    for old, new in replacements:
        text = text.replace(old, new)
    return asn1tools.compile_string(text, "per")


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
