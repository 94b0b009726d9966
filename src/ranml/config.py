"""Typed configuration: a frozen pydantic base and YAML loading with precise errors.

Every configuration in ranml is a :class:`RanmlModel` (frozen, unknown keys forbidden). Files are
read once at the edge with :func:`load_yaml`; a bad value produces a :class:`~ranml.errors.ConfigError`
that names the field path, the file and the line, e.g.::

    examples/bad.yaml:7: models[1].epochs: Input should be greater than 0 (got -3)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ranml.errors import ConfigError

__all__ = ["AppSettings", "RanmlModel", "format_validation_error", "load_yaml", "parse_mapping"]

M = TypeVar("M", bound="RanmlModel")
Loc = tuple[str | int, ...]


class RanmlModel(BaseModel):
    """Base of every ranml config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class AppSettings(RanmlModel):
    """Base of an app's own settings (xApp, rApp): a misspelt key is an error naming it, never dropped.

    An app without settings gets this empty model: any value given to it is refused.
    """


def _line_index(node: yaml.Node, path: Loc, out: dict[Loc, int]) -> None:
    """Record the 1-based line of every mapping key and sequence item below ``node``."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*path, str(key_node.value))
            out[key] = key_node.start_mark.line + 1
            _line_index(value_node, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), out)


def _format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text or "<root>"


def _line_for(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def format_validation_error(
    exc: ValidationError,
    model: type[BaseModel],
    source: str = "<config>",
    lines: Mapping[Loc, int] | None = None,
) -> str:
    """Turn a pydantic error into one line per problem: ``source:line: path: message``.

    Parameters
    ----------
    exc
        The validation error raised by pydantic.
    model
        The model being validated (used to list the allowed keys for unknown ones).
    source
        The file name (or another label) to show.
    lines
        Line numbers keyed by field path, from the YAML node tree.
    """
    out: list[str] = []
    for err in exc.errors():
        loc: Loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        line = _line_for(loc, lines or {})
        where = f"{source}:{line}" if line is not None else source
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            msg = "unknown key" + (f"; allowed keys here: {', '.join(allowed)}" if allowed else "")
        elif err["type"] == "missing":
            msg = "required field is missing; add it"
        elif "input" in err and not isinstance(err["input"], dict | list):
            msg = f"{msg} (got {err['input']!r})"
        out.append(f"{where}: {_format_loc(loc)}: {msg}")
    return "\n".join(out)


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Best-effort list of field names of the (nested) model at ``loc``."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = _unwrap_model(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _unwrap_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def parse_mapping(model: type[M], data: Any, source: str = "<config>") -> M:
    """Validate an in-memory mapping into ``model``; errors name the field path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, source)) from None


def load_yaml(path: str | Path, model: type[M]) -> M:
    """Read a YAML file and validate it into ``model``.

    Parameters
    ----------
    path
        The YAML file.
    model
        The :class:`RanmlModel` subclass describing the file.

    Returns
    -------
    M
        The validated, frozen configuration.

    Raises
    ------
    ConfigError
        The file is missing, is not valid YAML, or a value is wrong. The message names the file,
        the line and the field path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    if data is None:
        raise ConfigError(f"{path}: the file is empty; expected a mapping of {model.__name__}")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: expected a mapping at the top level, got {type(data).__name__}")
    lines: dict[Loc, int] = {}
    if node is not None:
        _line_index(node, (), lines)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, str(path), lines)) from None
