"""Per-site values files (``helm/sites/<site>.yaml``): which releases a site runs, with what values.

A site file::

    site:
      name: milan-01            # label value; also the registry alias site/milan-01
      kind: urban-gpu           # free text shown by `ranml helm check`
    values:                     # applied to every release of the site (node selectors, registry...)
      nodeSelector: {ranml.io/pool: gpu}
    ranml-xapp:                 # applied to every release of that chart
      sdl: {host: service-ricplt-dbaas-tcp.ricplt}
    releases:                   # one Helm release each (a chart can run several times)
      - {name: ts, chart: ranml-xapp, values: {app: traffic-steering}}
      - {name: es, chart: ranml-xapp, values: {app: energy-saving}}

Values merge in that order (later wins), then ``site`` is set to the site's name.

Structure errors name the file and the key; the chart values themselves are checked by each
chart's ``values.schema.json`` (see :mod:`ranml.deploy.values`), with the field's path.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ranml.deploy.values import CHART_VALUES, LABEL_VALUE
from ranml.errors import DeployError

__all__ = ["Release", "Site", "deep_merge", "list_sites", "load_site"]

_TOP_KEYS = {"site", "releases", "values"}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass
class Release:
    """One Helm release of a site."""

    name: str
    chart: str
    values: dict[str, Any]
    where: str  # "<file>: releases[i]" for messages


@dataclass
class Site:
    """A parsed site file."""

    name: str
    kind: str
    path: Path
    releases: list[Release] = field(default_factory=list)

    @property
    def charts(self) -> list[str]:
        """The charts the site runs (each once, in release order)."""
        return list(dict.fromkeys(r.chart for r in self.releases))

    def releases_of(self, chart: str) -> list[Release]:
        """The site's releases of ``chart`` (an error naming the site file when there is none)."""
        found = [r for r in self.releases if r.chart == chart]
        if not found:
            raise DeployError(f"{self.path}: site {self.name} runs no release of {chart} "
                              f"(charts: {', '.join(self.charts)}); add one under releases")
        return found


def load_site(path: Path) -> Site:
    """Parse and check the structure of a site file (not the chart values; Helm checks those)."""
    import re

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DeployError(f"{path}: cannot read the site file: {exc}") from None
    except yaml.YAMLError as exc:
        raise DeployError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise DeployError(f"{path}: a site file is a mapping with site, charts, values and per-chart sections")
    unknown = sorted(set(data) - _TOP_KEYS - set(CHART_VALUES))
    if unknown:
        raise DeployError(f"{path}: unknown key(s) {unknown}; use site, charts, values or a chart name "
                          f"({', '.join(CHART_VALUES)})")
    site = data.get("site")
    if not isinstance(site, dict) or not isinstance(site.get("name"), str) or not site["name"]:
        raise DeployError(f"{path}: site.name: required (the site's name, e.g. milan-01)")
    name = site["name"]
    if not re.match(LABEL_VALUE, name) or len(name) > 63:
        raise DeployError(f"{path}: site.name: {name!r} is not a valid label value (letters, digits, - _ .; "
                          f"at most 63 characters)")
    shared = data.get("values") or {}
    if not isinstance(shared, dict):
        raise DeployError(f"{path}: values: must be a mapping of chart values shared by the site's releases")
    per_chart: dict[str, dict[str, Any]] = {}
    for chart in CHART_VALUES:
        section = data.get(chart) or {}
        if not isinstance(section, dict):
            raise DeployError(f"{path}: {chart}: must be a mapping of chart values")
        per_chart[chart] = section
    items = data.get("releases")
    if not isinstance(items, list) or not items:
        raise DeployError(f"{path}: releases: required, a list of {{name, chart, values}}")
    releases: list[Release] = []
    for i, item in enumerate(items):
        where = f"{path}: releases[{i}]"
        if not isinstance(item, dict) or set(item) - {"name", "chart", "values"}:
            raise DeployError(f"{where}: a release is a mapping with name, chart and values")
        rname, chart, values = item.get("name"), str(item.get("chart")), item.get("values") or {}
        if not isinstance(rname, str) or not re.match(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$", rname):
            raise DeployError(f"{where}.name: {rname!r} is not a release name (lower-case letters, digits and -, "
                              f"at most 32 characters)")
        if chart not in CHART_VALUES:
            raise DeployError(f"{where}.chart: unknown chart {chart!r}; known: {', '.join(CHART_VALUES)}")
        if not isinstance(values, dict):
            raise DeployError(f"{where}.values: must be a mapping of chart values")
        if any(r.name == rname for r in releases):
            raise DeployError(f"{where}.name: release {rname} is defined twice")
        # shared values reach the charts that have them (a Flower SuperNode has no model to serve)
        known = {f.alias or n for n, f in CHART_VALUES[chart].model_fields.items()}
        merged = deep_merge(deep_merge({k: v for k, v in shared.items() if k in known}, per_chart[chart]), values)
        merged["site"] = name
        releases.append(Release(rname, chart, merged, where))
    return Site(name=name, kind=str(site.get("kind", "")), path=path, releases=releases)


def list_sites(sites_dir: Path) -> list[Site]:
    """Every ``*.yaml`` site file in ``sites_dir``, sorted by file name."""
    if not sites_dir.is_dir():
        raise DeployError(f"{sites_dir}: no sites folder; site files live in helm/sites/<site>.yaml")
    return [load_site(p) for p in sorted(sites_dir.glob("*.yaml"))]
