"""Onboarding bundle for the O-RAN SC Near-RT RIC: what ``dms_cli onboard`` and Helm need for one xApp.

:func:`write_onboarding_bundle` writes, for an app::

    config-file.json   the OSC xApp descriptor (validated), with the container's command
    schema.json        the JSON schema of the app's controls (its settings)
    values.yaml        values for helm/ranml-xapp (descriptor included), for a plain `helm install`
    ONBOARD.md         the commands, filled in for this app

The steps behind it are in ``docs/onboarding.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from ranml.errors import ConfigError

__all__ = ["RIC_SERVICES", "write_onboarding_bundle"]

# Service names of the OSC Near-RT RIC platform (namespace ricplt).
RIC_SERVICES = {
    "submgr": "http://service-ricplt-submgr-http.ricplt:8088",
    "e2mgr": "http://service-ricplt-e2mgr-http.ricplt:3800",
    "e2term": "service-ricplt-e2term-rmr-alpha.ricplt:38000",
    "dbaas": "service-ricplt-dbaas-tcp.ricplt",
}


def _container_args(ref: str) -> list[str]:
    return ["xapp", "run", ref, "--config=/opt/ric/config/config-file.json", "--rmr-port=4560",
            "--http-port=8080", "--state=redis", f"--submgr-url={RIC_SERVICES['submgr']}",
            f"--e2mgr-url={RIC_SERVICES['e2mgr']}"]


def write_onboarding_bundle(ref: str, out: Path, image_registry: str = "nexus3.o-ran-sc.org:10002",
                            image_name: str = "ranml-xapp", image_tag: str | None = None) -> dict[str, Path]:
    """Write the bundle for app ``ref`` (built-in name or ``module:app``) into ``out``.

    Returns the files written by role. Raises :class:`~ranml.errors.ConfigError` when the
    descriptor does not validate against the OSC schema (nothing is written then).
    """
    from ranml.xapp import build_descriptor, load_app, validate_descriptor

    app = load_app(ref)
    tag = image_tag or app.version
    descriptor = build_descriptor(app, image_registry=image_registry, image_tag=tag, image_name=image_name,
                                  args=_container_args(ref))
    schema = app.config_schema()
    problems = validate_descriptor(descriptor, schema)
    if problems:
        raise ConfigError(f"the descriptor of {ref} does not validate:\n" + "\n".join(problems))
    values: dict[str, Any] = {
        "app": ref,
        "image": {"repository": f"{image_registry}/{image_name}", "tag": tag},
        "sdl": {"host": RIC_SERVICES["dbaas"], "port": 6379},
        "e2": {"e2mgrUrl": RIC_SERVICES["e2mgr"], "submgrUrl": RIC_SERVICES["submgr"]},
        "descriptor": descriptor,
    }
    out.mkdir(parents=True, exist_ok=True)
    files = {"descriptor": out / "config-file.json", "schema": out / "schema.json", "values": out / "values.yaml",
             "steps": out / "ONBOARD.md"}
    files["descriptor"].write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")
    files["schema"].write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    files["values"].write_text("# values for helm/ranml-xapp (`ranml xapp onboard`)\n"
                               + yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    files["steps"].write_text(_steps(app.name, app.version, out), encoding="utf-8")
    return files


def _steps(name: str, version: str, out: Path) -> str:
    return f"""# Onboarding {name} {version} onto an O-RAN SC Near-RT RIC

With the OSC onboarding tool (its chart runs the image with the descriptor's command):

    export CHART_REPO_URL=http://<chartmuseum host>:<port>
    dms_cli onboard {out}/config-file.json {out}/schema.json
    dms_cli install {name} {version} ricxapp
    kubectl -n ricxapp get pods -l app=ricxapp-{name}

Or with the ranml chart (stable/canary tracks, model artefacts, probes, PodDisruptionBudget):

    helm dependency build helm/ranml-xapp
    helm install {name} helm/ranml-xapp -n ricxapp -f {out}/values.yaml

See docs/onboarding.md for the whole walk-through.
"""
