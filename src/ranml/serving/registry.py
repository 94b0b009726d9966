"""The model registry: semantic versions, content-addressed artefacts, aliases with history.

Local directory layout (the default, embedded backend)::

    REG/blobs/sha256/<hex>                    artefact bytes, named by their sha256
    REG/models/<name>/versions/<X.Y.Z>.json   version record: manifest, blob digests, who/when/why
    REG/models/<name>/aliases.json            {"aliases": {"champion": "1.2.0", "site/milan-01": "1.1.0"},
                                               "history": [every alias move: who, when, why, from, to]}

Every file is written to a temporary name and renamed, and a version record is written only after
its blobs, so a process killed mid-register leaves the registry as it was (at most an orphan
blob). Writers serialise on ``REG/.lock``. Every load verifies the sha256 of what it reads.
"""

from __future__ import annotations

import abc
import fcntl
import getpass
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ranml.errors import RegistryError

__all__ = ["BaseRegistry", "LocalRegistry", "VersionRecord", "parse_version"]

log = logging.getLogger("ranml.serving.registry")

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.2.3"`` → ``(1, 2, 3)``; raises :class:`RegistryError` naming the expected form."""
    m = _SEMVER.match(text)
    if not m:
        raise RegistryError(f"version {text!r} is not semantic (MAJOR.MINOR.PATCH, e.g. 1.2.0)")
    return int(m[1]), int(m[2]), int(m[3])


@dataclass(frozen=True)
class VersionRecord:
    """One registered version."""

    name: str
    version: str
    manifest: dict[str, Any]
    blobs: dict[str, str]
    registered_at: float
    registered_by: str
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form (what the record file holds)."""
        return {"name": self.name, "version": self.version, "manifest": self.manifest, "blobs": self.blobs,
                "registered_at": self.registered_at, "registered_by": self.registered_by, "note": self.note,
                **({"extra": self.extra} if self.extra else {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionRecord:
        """Parse a record file's content."""
        return cls(data["name"], data["version"], dict(data["manifest"]), dict(data["blobs"]),
                   float(data["registered_at"]), str(data["registered_by"]), str(data.get("note", "")),
                   dict(data.get("extra", {})))


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class BaseRegistry(abc.ABC):
    """Registry logic over a storage backend (see :class:`LocalRegistry`, ``RedisRegistry``).

    Subclasses provide the storage primitives (``_*`` methods below); versions, aliases, rollback,
    integrity checks and diffs are the same for every backend.
    """

    # -- storage primitives ------------------------------------------------------------------
    @abc.abstractmethod
    def models(self) -> list[str]:
        """Registered model names."""

    @abc.abstractmethod
    def _version_ids(self, name: str) -> list[str]:
        """Version strings of ``name`` in any order."""

    @abc.abstractmethod
    def _read_record(self, name: str, version: str) -> dict[str, Any]:
        """The stored record of ``name`` ``version`` (raise :class:`RegistryError` if unreadable)."""

    @abc.abstractmethod
    def _record_exists(self, name: str, version: str) -> bool:
        """Whether a record exists."""

    @abc.abstractmethod
    def _write_record(self, name: str, version: str, record: dict[str, Any]) -> None:
        """Store a record atomically (blobs are already stored)."""

    @abc.abstractmethod
    def _read_blob(self, digest: str) -> bytes | None:
        """Blob bytes, or ``None`` when missing."""

    @abc.abstractmethod
    def _write_blob(self, digest: str, data: bytes) -> None:
        """Store a blob atomically if it is not stored yet."""

    @abc.abstractmethod
    def _alias_state(self, name: str) -> dict[str, Any]:
        """``{"aliases": {...}, "history": [...]}`` of ``name``."""

    @abc.abstractmethod
    def _save_alias_state(self, name: str, state: dict[str, Any], entry: dict[str, Any]) -> None:
        """Store the alias state after the move ``entry`` atomically (and notify, where supported)."""

    @abc.abstractmethod
    def _lock(self) -> AbstractContextManager[None]:
        """Serialise writers."""

    @property
    def where(self) -> str:
        """Where the registry lives (for messages)."""
        return type(self).__name__

    @staticmethod
    def _check_name(name: str) -> str:
        if not _NAME.match(name):
            raise RegistryError(f"model name {name!r} is invalid; use letters, digits, '.', '_' or '-'")
        return name

    # -- reading ----------------------------------------------------------------------------
    def versions(self, name: str) -> list[str]:
        """Versions of ``name``, oldest first (semantic order)."""
        return sorted((v for v in self._version_ids(self._check_name(name)) if _SEMVER.match(v)), key=parse_version)

    def aliases(self, name: str) -> dict[str, str]:
        """Alias → version for ``name``."""
        return dict(self._alias_state(self._check_name(name))["aliases"])

    def history(self, name: str, alias: str | None = None) -> list[dict[str, Any]]:
        """Alias moves of ``name`` (optionally one alias), oldest first."""
        rows: list[dict[str, Any]] = self._alias_state(self._check_name(name))["history"]
        return [r for r in rows if alias is None or r["alias"] == alias]

    def resolve(self, name: str, ref: str) -> str:
        """A version string for ``ref`` (a version or an alias)."""
        versions = self.versions(name)
        if not versions:
            raise RegistryError(f"no model {name!r} in {self.where} (have: {', '.join(self.models()) or 'none'})")
        if _SEMVER.match(ref):
            if ref not in versions:
                raise RegistryError(f"{name} has no version {ref}; have {versions}")
            return ref
        aliases = self.aliases(name)
        if ref not in aliases:
            known = ", ".join(sorted(aliases)) or "none"
            raise RegistryError(f"{name} has no alias {ref!r} (aliases: {known}); give a version or an alias")
        return aliases[ref]

    def get(self, name: str, ref: str) -> VersionRecord:
        """The version record for ``ref`` (a version or an alias)."""
        version = self.resolve(name, ref)
        data = self._read_record(name, version)
        try:
            return VersionRecord.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"{name} {version}: unreadable version record ({exc})") from None

    def load(self, name: str, ref: str, role: str = "model") -> tuple[bytes, VersionRecord]:
        """The bytes of one artefact file (sha256 verified) and its version record.

        Raises
        ------
        RegistryError
            Unknown model/version/alias/role, missing blob, or a blob whose content no longer matches
            its sha256 (tampered or corrupted).
        """
        record = self.get(name, ref)
        digest = record.blobs.get(role)
        if digest is None:
            raise RegistryError(f"{name} {record.version} has no file {role!r} (have {sorted(record.blobs)})")
        data = self._read_blob(digest)
        if data is None:
            raise RegistryError(f"{name} {record.version}: artefact {role!r} is missing (sha256 {digest[:12]}…)")
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise RegistryError(
                f"{name} {record.version}: artefact {role!r} fails its integrity check (sha256 {actual[:12]}… "
                f"!= registered {digest[:12]}…); it was modified or corrupted — refusing to load it. "
                "Re-register the model from its source."
            )
        return data, record

    # -- writing ----------------------------------------------------------------------------
    def next_version(self, name: str, bump: str = "minor") -> str:
        """The version after the latest one (``1.0.0`` for a new model)."""
        existing = self.versions(name)
        if not existing:
            return "1.0.0"
        major, minor, patch = parse_version(existing[-1])
        if bump == "major":
            return f"{major + 1}.0.0"
        if bump == "patch":
            return f"{major}.{minor}.{patch + 1}"
        if bump == "minor":
            return f"{major}.{minor + 1}.0"
        raise RegistryError(f"bump must be major, minor or patch, got {bump!r}")

    def register(self, name: str, files: Mapping[str, bytes], manifest: Mapping[str, Any],
                 version: str | None = None, bump: str = "minor", by: str | None = None,
                 note: str = "") -> VersionRecord:
        """Store ``files`` (role → bytes) with ``manifest`` as a new, immutable version.

        Blobs are stored before the record, so an interrupted call leaves no half version.

        Raises
        ------
        RegistryError
            Invalid name or version, the version exists already, or no ``model`` file.
        """
        self._check_name(name)
        if "model" not in files:
            raise RegistryError("register needs a file with role 'model'")
        if version is not None:
            parse_version(version)
        with self._lock():
            version = version or self.next_version(name, bump)
            if self._record_exists(name, version):
                raise RegistryError(f"{name} {version} is already registered; versions are immutable, use another")
            blobs = {}
            for role, data in files.items():
                digest = hashlib.sha256(data).hexdigest()
                self._write_blob(digest, data)
                blobs[role] = digest
            record = VersionRecord(name, version, dict(manifest), blobs, time.time(), by or _user(), note)
            self._write_record(name, version, record.to_json())
        log.info("registered %s %s (%s)", name, version, ", ".join(f"{r}={d[:12]}" for r, d in blobs.items()))
        return record

    def set_alias(self, name: str, alias: str, ref: str, by: str | None = None, reason: str = "") -> dict[str, Any]:
        """Point ``alias`` at the version ``ref`` resolves to; record the move. Returns the history entry."""
        if not _ALIAS.match(alias):
            raise RegistryError(f"alias {alias!r} is invalid; use e.g. champion, challenger or site/milan-01")
        with self._lock():
            version = self.resolve(name, ref)
            state = self._alias_state(name)
            entry = {"alias": alias, "from": state["aliases"].get(alias), "to": version, "by": by or _user(),
                     "at": time.time(), "reason": reason, "action": "set"}
            self._apply(name, state, entry)
        return entry

    def rollback(self, name: str, alias: str, by: str | None = None, reason: str = "") -> dict[str, Any]:
        """Move ``alias`` back to the version promoted before its current one (undoing promotions)."""
        with self._lock():
            state = self._alias_state(self._check_name(name))
            current = state["aliases"].get(alias)
            if current is None:
                raise RegistryError(f"{name} has no alias {alias!r} to roll back")
            # Replay the alias's moves as a stack: a set pushes, a rollback pops; the version below
            # the top is where a rollback goes (so two rollbacks walk back two promotions).
            stack: list[str] = []
            for row in state["history"]:
                if row["alias"] != alias:
                    continue
                if row["action"] == "rollback" and stack:
                    stack.pop()
                elif row["action"] == "set":
                    stack.append(row["to"])
            previous = stack[-2] if len(stack) >= 2 else None
            if previous is None:
                raise RegistryError(f"{name} {alias!r} has no earlier version to roll back to (it is {current})")
            entry = {"alias": alias, "from": current, "to": previous, "by": by or _user(), "at": time.time(),
                     "reason": reason, "action": "rollback"}
            self._apply(name, state, entry)
        return entry

    def _apply(self, name: str, state: dict[str, Any], entry: dict[str, Any]) -> None:
        state["aliases"][entry["alias"]] = entry["to"]
        state["history"].append(entry)
        self._save_alias_state(name, state, entry)

    def check(self) -> list[str]:
        """Problems found in the registry; empty when it is consistent.

        Checks for unreadable records, missing or corrupted blobs and aliases pointing at unknown
        versions.
        """
        problems = []
        for name in self.models():
            for version in self.versions(name):
                try:
                    record = self.get(name, version)
                except RegistryError as exc:
                    problems.append(str(exc))
                    continue
                for role in record.blobs:
                    try:
                        self.load(name, version, role)
                    except RegistryError as exc:
                        problems.append(str(exc))
            try:
                aliases = self.aliases(name)
            except RegistryError as exc:
                problems.append(str(exc))
                continue
            known = set(self.versions(name))
            problems += [f"{name}: alias {a!r} points at unknown version {v}" for a, v in aliases.items()
                         if v not in known]
        return problems

    def diff(self, name: str, a: str, b: str) -> dict[str, Any]:
        """Differences between two versions' manifests (KPIs, parity, lineage, shapes, files)."""
        ra, rb = self.get(name, a), self.get(name, b)
        out: dict[str, Any] = {"name": name, "a": ra.version, "b": rb.version, "changed": {}}
        keys = sorted(set(ra.manifest) | set(rb.manifest))
        for key in keys:
            va, vb = ra.manifest.get(key), rb.manifest.get(key)
            if va == vb:
                continue
            if isinstance(va, dict) and isinstance(vb, dict):
                sub = {k: {"a": va.get(k), "b": vb.get(k)} for k in sorted(set(va) | set(vb)) if va.get(k) != vb.get(k)}
                out["changed"][key] = sub
            else:
                out["changed"][key] = {"a": va, "b": vb}
        if ra.blobs != rb.blobs:
            out["changed"]["blobs"] = {"a": ra.blobs, "b": rb.blobs}
        return out


class LocalRegistry(BaseRegistry):
    """A registry in a local directory (created on first write).

    Parameters
    ----------
    root
        The registry folder.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def where(self) -> str:
        """The folder."""
        return str(self.root)

    def _model_dir(self, name: str) -> Path:
        return self.root / "models" / self._check_name(name)

    def _blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def models(self) -> list[str]:
        """Registered model names."""
        base = self.root / "models"
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []

    def _version_ids(self, name: str) -> list[str]:
        d = self._model_dir(name) / "versions"
        return [p.stem for p in d.glob("*.json")] if d.exists() else []

    def _record_path(self, name: str, version: str) -> Path:
        return self._model_dir(name) / "versions" / f"{version}.json"

    def _read_record(self, name: str, version: str) -> dict[str, Any]:
        path = self._record_path(name, version)
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{path}: unreadable version record ({exc})") from None
        return data

    def _record_exists(self, name: str, version: str) -> bool:
        return self._record_path(name, version).exists()

    def _write_record(self, name: str, version: str, record: dict[str, Any]) -> None:
        path = self._record_path(name, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, json.dumps(record, indent=2, sort_keys=True).encode())

    def _read_blob(self, digest: str) -> bytes | None:
        try:
            return self._blob_path(digest).read_bytes()
        except OSError:
            return None

    def _write_blob(self, digest: str, data: bytes) -> None:
        path = self._blob_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(path, data)

    def _alias_state(self, name: str) -> dict[str, Any]:
        path = self._model_dir(name) / "aliases.json"
        if not path.exists():
            return {"aliases": {}, "history": []}
        try:
            state: dict[str, Any] = json.loads(path.read_text())
        except ValueError as exc:
            raise RegistryError(f"{path}: unreadable alias file ({exc})") from None
        return state

    def _save_alias_state(self, name: str, state: dict[str, Any], entry: dict[str, Any]) -> None:
        mdir = self._model_dir(name)
        mdir.mkdir(parents=True, exist_ok=True)
        _atomic_write(mdir / "aliases.json", json.dumps(state, indent=2, sort_keys=True).encode())

