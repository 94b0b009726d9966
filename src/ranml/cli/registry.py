"""``ranml registry``: list, show, register, promote, roll back and diff model versions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ranml.cli._common import console, handle_errors

app = typer.Typer(help="Versioned model registry (semantic versions, aliases, history).", no_args_is_help=True)

RegistryOpt = Annotated[str, typer.Option("--registry", help="Registry folder, or redis://host:port/db.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _open(where: str) -> Any:
    from ranml.serving import open_registry

    return open_registry(where)


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


@app.command("list")
@handle_errors
def list_(registry: RegistryOpt, as_json: JsonOpt = False) -> None:
    """Models with their versions and aliases."""
    reg = _open(registry)
    rows = [{"name": n, "versions": reg.versions(n), "aliases": reg.aliases(n)} for n in reg.models()]
    if as_json:
        _emit(rows)
        return
    table = Table(title=f"registry {registry}")
    for col in ("model", "versions", "aliases"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], ", ".join(r["versions"]), ", ".join(f"{a}→{v}" for a, v in r["aliases"].items()))
    console.print(table)


@app.command("show")
@handle_errors
def show(name: str, ref: Annotated[str, typer.Argument(help="Version or alias.")] = "champion",
         registry: RegistryOpt = "registry", as_json: JsonOpt = False) -> None:
    """One version's record (manifest, blobs, who registered it) and the alias history."""
    reg = _open(registry)
    record = reg.get(name, ref)
    data = {**record.to_json(), "aliases": reg.aliases(name), "history": reg.history(name)}
    if as_json:
        _emit(data)
        return
    m = record.manifest
    console.print(f"[bold]{name} {record.version}[/] ({m.get('format')}, {m.get('model')}), registered "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(record.registered_at))}Z by {record.registered_by}")
    console.print(f"parity: {m.get('parity')}")
    console.print(f"runtime: {(m.get('runtime') or {}).get('reason')}")
    console.print(f"aliases: {reg.aliases(name)}")


@app.command("register")
@handle_errors
def register(name: str, model_file: Annotated[Path, typer.Argument(help="The model file.")],
             manifest: Annotated[Path, typer.Option(help="Manifest JSON (ranml.serving.ModelManifest).")],
             registry: RegistryOpt, version: Annotated[str | None, typer.Option()] = None,
             note: Annotated[str, typer.Option()] = "") -> None:
    """Register a model file with its manifest as a new version."""
    from ranml.config import parse_mapping
    from ranml.errors import RegistryError
    from ranml.serving import ModelManifest

    try:
        raw = json.loads(manifest.read_text())
        blob = model_file.read_bytes()
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read the model or manifest: {exc}") from None
    parsed = parse_mapping(ModelManifest, raw, str(manifest))
    record = _open(registry).register(name, {"model": blob}, parsed.model_dump(mode="json"), version=version,
                                      note=note)
    _emit({"name": record.name, "version": record.version, "blobs": record.blobs})


@app.command("promote")
@handle_errors
def promote(name: str, version: str, registry: RegistryOpt,
            alias: Annotated[str, typer.Option(help="champion, challenger, site/<name>, ...")] = "champion",
            reason: Annotated[str, typer.Option(help="Why (kept in the history).")] = "",
            by: Annotated[str | None, typer.Option(help="Who (default: the OS user).")] = None) -> None:
    """Point an alias at a version."""
    _emit(_open(registry).set_alias(name, alias, version, by=by, reason=reason))


@app.command("rollback")
@handle_errors
def rollback(name: str, registry: RegistryOpt,
             alias: Annotated[str, typer.Option()] = "champion",
             reason: Annotated[str, typer.Option()] = "",
             by: Annotated[str | None, typer.Option()] = None) -> None:
    """Move an alias back to the version it pointed at before."""
    _emit(_open(registry).rollback(name, alias, by=by, reason=reason))


@app.command("diff")
@handle_errors
def diff(name: str, a: str, b: str, registry: RegistryOpt) -> None:
    """What changed between two versions (or aliases)."""
    _emit(_open(registry).diff(name, a, b))


@app.command("check")
@handle_errors
def check(registry: RegistryOpt) -> None:
    """Verify every record and artefact (sha256); exit 1 and list the problems if any."""
    problems = _open(registry).check()
    for p in problems:
        typer.echo(p)
    if problems:
        raise typer.Exit(1)
    typer.echo("registry ok")
