"""The OSC xApp descriptor (``config-file.json``): build it from an app, validate any file.

The OSC root schema (shipped as package data, Apache-2.0, from the O-RAN SC appmgr) treats
``controls`` as a placeholder that the onboarding tool replaces with the xApp's own controls
schema. :func:`validate_descriptor` does the same: the root schema checks everything else, and
``controls`` is checked against the controls schema given (the app's config JSON schema).

The xApp's name is ``name`` in the onboarder API's schema and ``xapp_name`` in the onboarding
guide's (kpimon-go, the traffic-steering xApp and the guide's example use ``xapp_name``). The
onboarder takes ``name`` when present, else ``xapp_name`` (``xApp_builder.py``); so does
:func:`descriptor_name`. :func:`build_descriptor` writes both, because ricxappframe's registration
reads ``name``.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from ranml.protocols.rmr import MTYPES, mtype_name

__all__ = ["build_descriptor", "descriptor_name", "root_schema", "validate_descriptor"]


@cache
def _root_schema_text() -> str:
    return resources.files("ranml.xapp").joinpath("data/xapp-descriptor-schema.json").read_text(encoding="utf-8")


def root_schema() -> dict[str, Any]:
    """A copy of the OSC xApp descriptor root schema."""
    data: dict[str, Any] = json.loads(_root_schema_text())
    return data


_NAME_KEYS = ("name", "xapp_name")


def descriptor_name(descriptor: dict[str, Any]) -> str | None:
    """The xApp's name as the OSC onboarder reads it: ``name``, else ``xapp_name`` (``None``: neither)."""
    for key in _NAME_KEYS:
        value = descriptor.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _names(mtypes: set[int]) -> list[str]:
    return sorted(mtype_name(m) for m in mtypes)


def build_descriptor(app: Any, image_registry: str = "nexus3.o-ran-sc.org:10002", image_tag: str | None = None,
                     data_port: int = 4560, route_port: int = 4561, http_port: int = 8080,
                     image_name: str | None = None, args: list[str] | None = None) -> dict[str, Any]:
    """``config-file.json`` for ``app`` (an :class:`~ranml.xapp.app.XApp`).

    ``args`` (with the command ``ranml``) is written into the container entry for charts, such as
    the one the OSC onboarding tool generates, that start the image without arguments.
    """
    rx = set(app.rx_mtypes()) | {MTYPES["RIC_HEALTH_CHECK_REQ"]}
    tx = set(app.tx_mtypes()) | {MTYPES["RIC_HEALTH_CHECK_RESP"]}
    return {
        "name": app.name,
        "xapp_name": app.name,
        "version": app.version,
        "containers": [{"name": app.name,
                        "image": {"registry": image_registry, "name": image_name or f"ranml-{app.name}",
                                  "tag": image_tag or app.version},
                        **({"command": ["ranml"], "args": list(args)} if args else {})}],
        "livenessProbe": {"httpGet": {"path": "ric/v1/health/alive", "port": http_port},
                          "initialDelaySeconds": 5, "periodSeconds": 15},
        "readinessProbe": {"httpGet": {"path": "ric/v1/health/ready", "port": http_port},
                           "initialDelaySeconds": 5, "periodSeconds": 15},
        "messaging": {"ports": [
            {"name": "http", "container": app.name, "port": http_port, "description": "health, config, metrics"},
            {"name": "rmrroute", "container": app.name, "port": route_port, "description": "RMR route port"},
            {"name": "rmrdata", "container": app.name, "port": data_port, "description": "RMR data port",
             "rxMessages": _names(rx), "txMessages": _names(tx), "policies": sorted(app.policy_types)},
        ]},
        "controls": app.default_config(),
        "metrics": {"url": "/metrics", "namespace": "ricxapp"},
    }


def validate_descriptor(descriptor: Any, controls_schema: dict[str, Any] | None = None,
                        root: dict[str, Any] | None = None) -> list[str]:
    """Problems found in a descriptor (empty when valid), each naming its JSON path.

    Parameters
    ----------
    descriptor
        The parsed ``config-file.json``.
    controls_schema
        JSON schema of the ``controls`` section (the xApp's ``schema.json``); any object when left out.
    root
        The root schema; default :func:`root_schema` (the onboarder API's). The onboarding guide's
        ``embedded-schema.json`` is the other generation in use (string ``command``, list ``metrics``).
    """
    import jsonschema

    schema = copy.deepcopy(root) if root is not None else root_schema()
    properties = schema.setdefault("properties", {})
    properties["controls"] = controls_schema or {"type": "object"}
    for key in _NAME_KEYS:
        properties.setdefault(key, {"type": "string", "minLength": 1})
    problems = []
    if not isinstance(descriptor, dict):
        return ["$: the descriptor must be a JSON object"]
    present = [k for k in _NAME_KEYS if k in descriptor]
    if not present:
        problems.append("$.name: the xApp's name is missing: the OSC onboarding tool needs \"name\" or "
                        "\"xapp_name\" (the chart name)")
    elif len({str(descriptor[k]) for k in present}) > 1:
        problems.append(f"$.xapp_name: {descriptor['xapp_name']!r} differs from $.name {descriptor['name']!r}; "
                        "the onboarder uses name: make them equal or keep one")
    for key in ("version", "containers", "messaging"):
        if key not in descriptor:
            problems.append(f"$.{key}: required by the OSC onboarding tool and missing")
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(descriptor), key=lambda e: [str(p) for p in e.absolute_path]):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        problems.append(f"{path}: {error.message}")
    return problems
