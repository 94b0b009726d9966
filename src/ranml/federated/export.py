"""A federated or split model into the same pipeline as any other: exported per site with the parity gate.

The global model is shared, but every site scales its cells with its own statistics, so a site's
artefact is the global weights plus that site's scaler, checked on that site's held-out windows.
Its lineage says how it was trained (strategy, rounds, sites and their data), so the registry,
serving, canary and the update agent treat it as any other version.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ranml.errors import ExportError
from ranml.export import ExportGates, ExportResult, export_model
from ranml.federated.config import FederationConfig
from ranml.federated.outputs import RunFiles
from ranml.serving import Lineage

__all__ = ["export_site_model"]


def export_site_model(out: str | Path, site: str | None = None, fmt: str = "onnx",
                      gates: ExportGates | None = None, name: str | None = None,
                      cut: str | None = None) -> ExportResult:
    """Export the model of a finished federated or split learning run for one site.

    Parameters
    ----------
    out
        The run's output folder (``ranml fl run --out`` or ``ranml sl run --out``).
    site
        The site whose scaler and held-out windows go with the artefact (a split run has one).
    fmt, gates
        As :func:`ranml.export.export_model`.
    name
        Registry name (default: the model name).
    cut
        For a split run: which cut point's model.

    Raises
    ------
    ExportError
        The folder holds no finished run, the site or the cut is unknown, or a parity gate fails.
    """
    import torch

    from ranml.federated.config import SplitConfig
    from ranml.federated.site import build_global_model, site_windows

    root = Path(out).resolve()
    try:
        spec = json.loads((root / "run.json").read_text())["config"]
    except (OSError, ValueError, KeyError) as exc:
        raise ExportError(f"{root}: no finished federated or split learning run ({exc})") from None
    cfg: FederationConfig | SplitConfig
    if "site" in spec:
        cfg = SplitConfig.model_validate(spec)
        sites = {cfg.site.name: cfg.site}
        if cut is None:
            raise ExportError(f"{root} is a split learning run: name the cut point (cuts: {cfg.cuts or 'all'})")
        model_path = root / "cuts" / cut / "model.pt"
        summary_row: dict[str, Any] = {}
    else:
        cfg = FederationConfig.model_validate(spec)
        sites = {s.name: s for s in cfg.sites}
        model_path = RunFiles(root).model
        summary_path = root / "summary.json"
        summary_row = json.loads(summary_path.read_text())["sites"] if summary_path.exists() else {}
    site = site or next(iter(sites))
    if site not in sites:
        raise ExportError(f"site {site!r} is not in the run; its sites: {sorted(sites)}")
    if not model_path.exists():
        raise ExportError(f"{model_path} is missing: the run did not finish" + (f" (cut {cut!r})" if cut else ""))
    saved: dict[str, Any] = torch.load(model_path, map_location="cpu", weights_only=False)
    data = site_windows(sites[site], cfg.windows)
    model = build_global_model(cfg, data.model_shape())
    model.load_state(saved)
    row = summary_row.get(site, {})
    kpis = {"mae": row.get("test_mae"), "val_mae": row.get("val_mae")} if row else {}
    source = sites[site].source.model_dump_json()
    lineage = Lineage(
        run_dir=str(root), run_name=cfg.name, dataset=site,
        dataset_hash=hashlib.sha256(source.encode()).hexdigest()[:16],
        config_hash=hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16],
        training=saved.get("lineage"),
    )
    return export_model(model, data, name or cfg.model, fmt, gates, lineage, kpis)
