"""The OSC xApp descriptor (``config-file.json``): build it from an app, validate any file.

The OSC root schema (shipped as package data, Apache-2.0, from the O-RAN SC appmgr) treats
``controls`` as a placeholder that the onboarding tool replaces with the xApp's own controls
schema. :func:`validate_descriptor` does the same: the root schema checks everything else, and
``controls`` is checked against the controls schema given (the app's config JSON schema).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from ranml.protocols.rmr import MTYPES, mtype_name

__all__ = ["build_descriptor", "root_schema", "validate_descriptor"]


@cache
def _root_schema_text() -> str:
    return resources.files("ranml.xapp").joinpath("data/xapp-descriptor-schema.json").read_text(encoding="utf-8")


def root_schema() -> dict[str, Any]:
    """A copy of the OSC xApp descriptor root schema."""
    data: dict[str, Any] = json.loads(_root_schema_text())
    return data


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


def validate_descriptor(descriptor: Any, controls_schema: dict[str, Any] | None = None) -> list[str]:
    """Problems found in a descriptor (empty when valid), each naming its JSON path."""
    import jsonschema

    schema = root_schema()
    schema["properties"] = copy.deepcopy(schema["properties"])
    schema["properties"]["controls"] = controls_schema or {"type": "object"}
    problems = []
    if not isinstance(descriptor, dict):
        return ["$: the descriptor must be a JSON object"]
    for key in ("name", "version", "containers", "messaging"):
        if key not in descriptor:
            problems.append(f"$.{key}: required by the OSC onboarding tool and missing")
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(descriptor), key=lambda e: list(e.absolute_path)):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        problems.append(f"{path}: {error.message}")
    return problems
