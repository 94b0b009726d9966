"""Import an object named ``package.module:attribute`` or ``path/to/file.py:attribute`` (app references)."""

from __future__ import annotations

import importlib
from typing import TypeVar

from ranml.errors import ConfigError

T = TypeVar("T")


def _import_file(path: str) -> object:
    """Import a module from a file path (``examples/my_xapp.py``)."""
    import importlib.util
    import sys
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise ImportError(f"no file {path}")
    name = f"_ranml_user_{file.stem}_{abs(hash(str(file.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
        module = _import_file(module_name) if module_name.endswith(".py") else importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r} for {kind} {ref!r}: {exc}") from None
    obj = getattr(module, attr, None)
    if not isinstance(obj, expected):
        raise ConfigError(f"{target} is {type(obj).__name__}, not a {public_name}")
    return obj
