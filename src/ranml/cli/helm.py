"""``ranml helm``: render the charts for a site, check every chart × site, regenerate value schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ranml.cli._common import handle_errors

app = typer.Typer(help="Helm charts per site: render, check (lint + Kubernetes schemas), value schemas.",
                  no_args_is_help=True)

ChartsOpt = Annotated[Path, typer.Option(help="The charts folder (the repository's helm/).")]


def _site_file(charts: Path, site: str) -> Path:
    path = Path(site)
    return path if path.suffix in (".yaml", ".yml") and path.is_file() else charts / "sites" / f"{site}.yaml"


@app.command("render")
@handle_errors
def render(chart: Annotated[str, typer.Option(help="Chart name, e.g. ranml-xapp.")],
           site: Annotated[str, typer.Option(help="Site name (helm/sites/<site>.yaml) or a site file.")],
           release: Annotated[str | None, typer.Option(help="Only this release of the site.")] = None,
           out: Annotated[Path | None, typer.Option(help="Write one file per manifest here (default: stdout).")]
           = None,
           charts: ChartsOpt = Path("helm")) -> None:
    """Render a chart with a site's values (the xApp descriptor built from the app)."""
    from ranml.deploy import load_site, render_release
    from ranml.errors import DeployError

    s = load_site(_site_file(charts, site))
    releases = [r for r in s.releases_of(chart) if release in (None, r.name)]
    if not releases:
        raise DeployError(f"{s.path}: no release {release!r} of {chart} (have: "
                          f"{', '.join(r.name for r in s.releases_of(chart))})")
    for r in releases:
        rendered = render_release(charts, r)
        if out is None:
            for path, text in sorted(rendered.items()):
                typer.echo(f"---\n# Source: {r.name}/{path}\n{text.strip()}")
            continue
        for path, text in sorted(rendered.items()):
            target = out / s.name / r.name / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        typer.echo(f"{s.name}/{r.name}: {len(rendered)} manifest file(s) in {out / s.name / r.name}")


@app.command("check")
@handle_errors
def check(charts: ChartsOpt = Path("helm"),
          sites: Annotated[Path | None, typer.Option(help="Site files folder (default: <charts>/sites).")] = None,
          json_out: Annotated[Path | None, typer.Option("--json", help="Write the report here.")] = None) -> None:
    """Render, lint and validate every chart for every site; exit 1 with the problems listed."""
    from ranml.deploy import KUBE_VERSION, check_all

    report = check_all(charts, sites)
    if json_out is not None:
        json_out.write_text(json.dumps({"charts": report.charts, "sites": report.sites, "releases": report.releases,
                                        "manifests": report.manifests, "problems": report.problems}, indent=2),
                            encoding="utf-8")
    for problem in report.problems:
        typer.echo(problem, err=True)
    typer.echo(f"{len(report.charts)} charts, {len(report.sites)} sites, {report.releases} releases, "
               f"{report.manifests} manifests checked against Kubernetes {KUBE_VERSION}: "
               f"{'ok' if report.ok else f'{len(report.problems)} problem(s)'}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("schema")
@handle_errors
def schema(charts: ChartsOpt = Path("helm")) -> None:
    """Regenerate every chart's values.schema.json from ranml.deploy.values."""
    from ranml.deploy import write_schemas

    for path in write_schemas(charts):
        typer.echo(str(path))
