"""``ranml xapp``: run an xApp, emit and validate its OSC descriptor."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import handle_errors, setup_logging

app = typer.Typer(help="xApp SDK: run apps over RMR, descriptors for the OSC Near-RT RIC.", no_args_is_help=True)


def _config_file(path: Path | None) -> dict[str, object] | None:
    if path is None:
        return None
    import yaml

    from ranml.errors import ConfigError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the app config: {exc}") from None
    if isinstance(data, dict) and "controls" in data and "containers" in data:
        data = data["controls"]  # an OSC config-file.json: the app's settings are its controls
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the app config must be a mapping")
    return data


@app.command("run")
@handle_errors
def run(ref: Annotated[str, typer.Argument(help="module:app, or traffic-steering / energy-saving.")],
        config: Annotated[Path | None, typer.Option(help="App settings (YAML/JSON, or a config-file.json).")] = None,
        rmr_port: Annotated[int, typer.Option(help="RMR data port.")] = 4560,
        name: Annotated[str | None, typer.Option(help="Name in RMR src (default RMR_SRC_ID or host name).")] = None,
        http_port: Annotated[int, typer.Option(help="Health/config/metrics HTTP port (0: pick one).")] = 8080,
        http_host: Annotated[str, typer.Option(help="Bind address of the HTTP endpoints (all interfaces in a pod, "
                                                    "where the platform probes them).")] = "0.0.0.0",
        state: Annotated[str, typer.Option(help="State store: memory, redis (DBAAS_SERVICE_HOST/PORT) or auto.")]
        = "auto",
        e2mgr_url: Annotated[str | None, typer.Option(help="E2 manager base URL for node discovery.")] = None,
        node: Annotated[list[str] | None, typer.Option(help="Node RAN name to subscribe to (repeatable).")] = None,
        kpm_period_ms: Annotated[int | None, typer.Option(help="Override the app's KPM reporting period.")] = None,
        submgr_url: Annotated[str | None, typer.Option(help="Subscribe through the OSC subscription manager "
                                                            "(REST) at this base URL instead of direct E2.")] = None,
        transport: Annotated[str, typer.Option(help="RMR transport: python (pure-Python, default) or librmr "
                                                    "(ricxappframe; needs librmr_si.so).")] = "python",
        mdc_logs: Annotated[bool, typer.Option(help="Log in mdclogpy MDC JSON format.")] = True,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run an xApp until SIGTERM/SIGINT: drain, delete subscriptions, exit 0."""
    import logging

    from ranml.config import parse_mapping
    from ranml.errors import ConfigError
    from ranml.host import run_until_signalled
    from ranml.xapp import RunnerSettings, XAppRunner, load_app, open_transport, setup_mdc_logging

    if transport not in ("python", "librmr"):
        raise ConfigError(f"--transport {transport!r}: use python or librmr")
    xapp = load_app(ref)
    if mdc_logs:
        setup_mdc_logging(xapp.name, logging.INFO if verbose else logging.WARNING)
    else:
        setup_logging(verbose)
    settings = parse_mapping(RunnerSettings, {
        "http_port": http_port, "http_host": http_host, "state": state, "e2mgr_url": e2mgr_url,
        "nodes": list(node or []), "kpm_period_ms": kpm_period_ms, "submgr_url": submgr_url,
        "client_host": name or "127.0.0.1"}, source="ranml xapp run options")
    values = _config_file(config)

    async def main() -> dict[str, object]:
        rmr = open_transport(transport, rmr_port, name)
        runner = XAppRunner(xapp, rmr, settings, values)
        return await run_until_signalled(runner.start, runner.stop, lambda _: typer.echo(json.dumps(
            {"xapp": xapp.name, "rmr": rmr.name, "http_port": runner.http.port if runner.http else None}), err=True))

    typer.echo(json.dumps(asyncio.run(main())))


@app.command("descriptor")
@handle_errors
def descriptor(ref: Annotated[str, typer.Argument(help="module:app, or a built-in app name.")],
               out: Annotated[Path | None, typer.Option(help="Write here (default: stdout).")] = None,
               schema_out: Annotated[Path | None, typer.Option(help="Also write the controls JSON schema.")] = None,
               image_registry: Annotated[str, typer.Option(help="Image registry.")] = "nexus3.o-ran-sc.org:10002",
               ) -> None:
    """Emit the OSC config-file.json for an app (validated before it is written)."""
    from ranml.errors import ConfigError
    from ranml.xapp import build_descriptor, load_app, validate_descriptor

    xapp = load_app(ref)
    data = build_descriptor(xapp, image_registry=image_registry)
    problems = validate_descriptor(data, xapp.config_schema())
    if problems:
        raise ConfigError("the generated descriptor does not validate:\n" + "\n".join(problems))
    text = json.dumps(data, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    if schema_out is not None:
        schema_out.write_text(json.dumps(xapp.config_schema(), indent=2) + "\n", encoding="utf-8")


@app.command("validate-descriptor")
@handle_errors
def validate(path: Annotated[Path, typer.Argument(help="A config-file.json.")],
             schema: Annotated[Path | None, typer.Option(help="The app's controls schema (schema.json).")] = None,
             root_schema: Annotated[Path | None, typer.Option(
                 help="Root schema instead of the onboarder API's (e.g. the onboarding guide's "
                      "embedded-schema.json).")] = None,
             ) -> None:
    """Check a descriptor against the OSC schema: prints the problems (exit 1) or nothing (exit 0)."""
    from ranml.xapp import validate_descriptor

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        typer.echo(f"{path}: not readable JSON: {exc}")
        raise typer.Exit(1) from None
    controls = json.loads(schema.read_text(encoding="utf-8")) if schema is not None else None
    root = json.loads(root_schema.read_text(encoding="utf-8")) if root_schema is not None else None
    problems = validate_descriptor(data, controls, root)
    for p in problems:
        typer.echo(p)
    raise typer.Exit(1 if problems else 0)


@app.command("onboard")
@handle_errors
def onboard(ref: Annotated[str, typer.Argument(help="module:app, or a built-in app name.")],
            out: Annotated[Path, typer.Option(help="Folder for config-file.json, schema.json, values.yaml.")],
            image_registry: Annotated[str, typer.Option(help="Image registry.")] = "nexus3.o-ran-sc.org:10002",
            image_name: Annotated[str, typer.Option(help="Image name in the registry.")] = "ranml-xapp",
            image_tag: Annotated[str | None, typer.Option(help="Image tag (default: the app's version).")] = None,
            ) -> None:
    """Write what the OSC onboarding tool (dms_cli onboard) and the ranml-xapp chart need."""
    from ranml.deploy import write_onboarding_bundle

    files = write_onboarding_bundle(ref, out, image_registry=image_registry, image_name=image_name,
                                    image_tag=image_tag)
    for role, path in files.items():
        typer.echo(f"{role:10s} {path}")
