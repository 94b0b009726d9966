"""``ranml sl run``: split learning at every configured cut point, and the trade-off between them.

For each cut point a server process and a site process are started (over gRPC on 127.0.0.1; with
the site's ``faults.link``, through the :mod:`~ranml.federated.netem` proxy), the site trains its
part against the server's, and the cut's record lands in ``cuts/<cut>/result.json``: accuracy,
the site's compute time and energy, bytes per step, end-to-end step latency, recoveries.
``summary.json`` has the table and ``report/index.html`` the trade-off plot.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ranml.config import load_yaml
from ranml.errors import FederationError
from ranml.federated.config import SplitConfig
from ranml.federated.deployment import free_port, wait_port
from ranml.federated.outputs import write_json

__all__ = ["SplitResult", "list_cuts", "load_split_config", "run_split"]

log = logging.getLogger("ranml.federated.split_run")


def load_split_config(path: str | Path) -> SplitConfig:
    """Read and validate a split learning YAML (errors name the field, the file and the line)."""
    return load_yaml(path, SplitConfig)


def list_cuts(cfg: SplitConfig) -> list[dict[str, Any]]:
    """The model's valid cut points for the site's windows (name, weights each side, numbers crossing)."""
    import torch

    from ranml.federated.site import build_global_model, site_windows
    from ranml.federated.split import cut_points

    shape = site_windows(cfg.site, cfg.windows).model_shape()
    net = build_global_model(cfg, shape).net  # type: ignore[attr-defined]
    return [{"cut": p.name, "module": p.module, "site_params": p.site_params, "server_params": p.server_params,
             "floats_per_window": p.floats_per_window} for p in cut_points(net, torch.zeros(shape.example_input(2)))]


@dataclass(frozen=True)
class SplitResult:
    """Every cut's record, in the order trained."""

    cuts: list[dict[str, Any]]
    out: Path


class _Procs:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.files: list[IO[bytes]] = []

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        fh = (self.logs / f"{name}.log").open("ab")
        self.files.append(fh)
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        proc = subprocess.Popen([sys.executable, "-m", *argv], stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name)
        for fh in self.files:
            fh.close()


def _train_cut(cfg: SplitConfig, out: Path, cut: str, on_progress: Callable[[str, dict[str, Any]], None] | None,
               poll_s: float = 0.3) -> dict[str, Any]:
    folder = out / "cuts" / cut
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (*folder.glob("*.pt"), folder / "progress.jsonl", folder / "result.json"):
        stale.unlink(missing_ok=True)
    procs = _Procs(folder / "logs")
    try:
        port = free_port()
        server = ["ranml.federated.split_runtime", "server", "--folder", str(folder), "--cut", cut,
                  "--port", str(port)]
        procs.spawn("server", server)
        wait_port(procs.procs["server"], port, "split learning server")
        target = port
        link = cfg.site.faults.link
        if link.active:
            target = free_port()
            procs.spawn("link", ["ranml.federated.netem", "--listen", str(target), "--target", str(port),
                                 "--delay-ms", str(link.delay_ms), "--bandwidth-kbps", str(link.bandwidth_kbps),
                                 "--loss", str(link.loss), "--seed", str(cfg.seed)])
            wait_port(procs.procs["link"], target, "link proxy")
        site = procs.spawn("site", ["ranml.federated.split_runtime", "site", "--folder", str(folder), "--cut", cut,
                                    "--port", str(target)])
        restart_at = cfg.faults.restart_server_after_step
        seen = 0
        while site.poll() is None:
            lines = (folder / "progress.jsonl").read_text().splitlines() if (folder / "progress.jsonl").exists() \
                else []
            for line in lines[seen:]:
                record = json.loads(line)
                if on_progress is not None:
                    on_progress(cut, record)
                if restart_at is not None and record["step"] >= restart_at and "restarted" not in procs.procs:
                    log.warning("fault: killing the split learning server after step %d", record["step"])
                    procs.kill("server")
                    time.sleep(1.0)
                    procs.spawn("server", server)
                    procs.procs["restarted"] = procs.procs["server"]
            seen = len(lines)
            time.sleep(poll_s)
        if site.returncode != 0 or not (folder / "result.json").exists():
            raise FederationError(f"split learning at cut {cut!r} failed (site exit code {site.returncode}); "
                                  f"see {folder / 'logs'}")
        record = dict(json.loads((folder / "result.json").read_text()))
        _assemble(cfg, folder, cut, record)
        return record
    finally:
        procs.procs.pop("restarted", None)
        procs.stop()


def _assemble(cfg: SplitConfig, folder: Path, cut: str, record: dict[str, Any]) -> None:
    """Join the two trained parts back into the zoo model; save it as ``model.pt`` with its lineage."""
    import torch

    from ranml.federated.site import build_global_model, site_windows
    from ranml.federated.split import split_model

    shape = site_windows(cfg.site, cfg.windows).model_shape()
    model = build_global_model(cfg, shape)
    parts = split_model(model.net, cut, torch.zeros(shape.example_input(2)))  # type: ignore[attr-defined]
    parts.site.load_state_dict(torch.load(folder / "site-latest.pt", weights_only=False)["part"])
    parts.server.load_state_dict(torch.load(folder / f"server-{record['steps']}.pt", weights_only=False)["part"])
    model.load_state({"state_dict": model.net.state_dict()})  # type: ignore[attr-defined]
    lineage = {"kind": "split", "engine": "grpc", "cut": cut, "epochs": cfg.epochs, "model": cfg.model,
               "params": cfg.params, "sites": {cfg.site.name: record["train_windows"]},
               "site_params": record["site_params"], "server_params": record["server_params"]}
    torch.save({**model.state(), "shape": shape.__dict__, "lineage": lineage}, folder / "model.pt")


def run_split(cfg: SplitConfig, out: str | Path,
              on_progress: Callable[[str, dict[str, Any]], None] | None = None) -> SplitResult:
    """Train every configured cut point; write ``summary.json`` and ``report/index.html``.

    Raises
    ------
    FederationError
        A cut point is not valid (the message lists the valid ones) or a cut's run failed.
    """
    from ranml.federated.split_report import write_split_report

    root = Path(out).resolve()
    root.mkdir(parents=True, exist_ok=True)
    valid = [c["cut"] for c in list_cuts(cfg)]
    cuts = cfg.cuts or valid
    unknown = [c for c in cuts if c not in valid]
    if unknown:
        raise FederationError(f"cuts: {unknown} are not valid cut points of {cfg.model}; valid: {valid}")
    write_json(root / "run.json", {"config": cfg.model_dump(mode="json")})
    records = [_train_cut(cfg, root, cut, on_progress) for cut in cuts]
    write_json(root / "summary.json", {"model": cfg.model, "site": cfg.site.name, "cuts": records})
    write_split_report(root / "report", cfg, records)
    return SplitResult(records, root)
