"""Import an object named ``package.module:attribute`` (app references on the command line)."""

from __future__ import annotations

import importlib
from typing import TypeVar

from ranml.errors import ConfigError

T = TypeVar("T")


def load_object(ref: str, builtin: dict[str, str], expected: type[T], kind: str, public_name: str) -> T:
    """Resolve ``ref`` (a built-in name or ``module:attr``) to an instance of ``expected``.

    ``public_name`` is how error messages name the class (its public import path).
    """
    target = builtin.get(ref, ref)
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{kind} reference {ref!r} must look like 'package.module:app' "
                          f"or be one of {sorted(builtin)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} for {kind} {ref!r}: {exc}") from None
    obj = getattr(module, attr, None)
    if not isinstance(obj, expected):
        raise ConfigError(f"{target} is {type(obj).__name__}, not a {public_name}")
    return obj
