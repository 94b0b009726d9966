"""The files of a federated run's output folder, shared by the launcher and the Flower apps.

``run.json`` is what the launcher hands the Flower apps (the configuration; the apps get its path
in Flower's run config), ``progress.jsonl`` gets one line per finished round, ``result.json`` the
whole record at the end, ``model.pt`` the global model in the zoo's checkpoint form, and
``checkpoint.pt`` the latest global weights with their round (a restarted server resumes there).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ranml.federated.config import FederationConfig

__all__ = ["RunFiles", "parse_spec", "write_json"]


@dataclass(frozen=True)
class RunFiles:
    """Paths in one run's output folder."""

    root: Path

    @property
    def spec(self) -> Path:
        """The configuration the apps read."""
        return self.root / "run.json"

    @property
    def progress(self) -> Path:
        """One JSON line per finished round."""
        return self.root / "progress.jsonl"

    @property
    def result(self) -> Path:
        """The run's record."""
        return self.root / "result.json"

    @property
    def model(self) -> Path:
        """The final global model (zoo checkpoint: name, hparams, state_dict)."""
        return self.root / "model.pt"

    @property
    def checkpoint(self) -> Path:
        """The latest global weights and their round."""
        return self.root / "checkpoint.pt"

    @property
    def logs(self) -> Path:
        """Logs of the engine's processes."""
        return self.root / "logs"

    def write_spec(self, cfg: FederationConfig) -> None:
        """Write the configuration for the apps."""
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.spec, {"config": cfg.model_dump(mode="json")})

    def read_spec(self) -> FederationConfig:
        """The configuration written by :meth:`write_spec`."""
        return parse_spec(self.spec.read_text())

    def append_progress(self, record: dict[str, Any]) -> None:
        """Add one round's record to ``progress.jsonl``."""
        with self.progress.open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    def read_progress(self) -> list[dict[str, Any]]:
        """The rounds recorded so far."""
        if not self.progress.exists():
            return []
        out = []
        for line in self.progress.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # a line being written
                break
        return out


def parse_spec(text: str) -> FederationConfig:
    """The configuration in a ``run.json`` text (also what Flower's run config carries as ``spec``)."""
    return FederationConfig.model_validate(json.loads(text)["config"])


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)
