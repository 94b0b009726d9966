"""The registry on Redis: the same semantics as the local directory, shared by every process.

Keys (prefix ``ranml:registry`` by default)::

    <p>:models                         set of model names
    <p>:model:<name>:versions          set of version strings
    <p>:model:<name>:version:<v>       JSON version record
    <p>:model:<name>:aliases           JSON {"aliases": {...}, "history": [...]}
    <p>:blob:<sha256>                  artefact bytes
    <p>:lock                           writer lock

When an alias moves, its history entry is published on ``<p>:alias:<name>`` so that running apps
can hot-swap; :meth:`RedisRegistry.subscribe` listens to those notifications. A record is written
only after its blobs (in one transaction with the version index), so an interrupted register leaves
no half version.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ranml.errors import RegistryError
from ranml.serving.registry import BaseRegistry

__all__ = ["RedisRegistry"]


class RedisRegistry(BaseRegistry):
    """A registry stored in Redis.

    Parameters
    ----------
    client
        A ``redis.Redis`` client (binary responses; do not set ``decode_responses``).
    prefix
        Key prefix, so several registries can share one Redis.
    lock_timeout_s
        Writer lock expiry (a crashed writer cannot block others for longer).
    """

    def __init__(self, client: Any, prefix: str = "ranml:registry", lock_timeout_s: float = 30.0) -> None:
        self.client = client
        self.prefix = prefix
        self.lock_timeout_s = lock_timeout_s

    @classmethod
    def from_url(cls, url: str, prefix: str = "ranml:registry") -> RedisRegistry:
        """Connect with a ``redis://host:port/db`` URL (no traffic until first use)."""
        import redis

        return cls(redis.Redis.from_url(url), prefix)

    @property
    def where(self) -> str:
        """The Redis connection and prefix."""
        kw = self.client.connection_pool.connection_kwargs
        return f"redis://{kw.get('host')}:{kw.get('port')}/{kw.get('db', 0)} ({self.prefix})"

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def channel(self, name: str) -> str:
        """The pub/sub channel announcing alias moves of ``name``."""
        return self._k("alias", self._check_name(name))

    def _call(self, fn: Any, *args: Any) -> Any:
        import redis

        try:
            return fn(*args)
        except redis.RedisError as exc:
            raise RegistryError(f"registry on {self.where} unavailable: {exc}") from None

    @contextmanager
    def _lock(self) -> Iterator[None]:
        import redis

        lock = self.client.lock(self._k("lock"), timeout=self.lock_timeout_s, blocking_timeout=self.lock_timeout_s)
        try:
            acquired = lock.acquire()
        except redis.RedisError as exc:
            raise RegistryError(f"registry on {self.where} unavailable: {exc}") from None
        if not acquired:
            raise RegistryError(f"registry on {self.where}: writer lock busy for {self.lock_timeout_s}s")
        try:
            yield
        finally:
            with contextlib.suppress(redis.RedisError):  # expired: the next writer takes it
                lock.release()

    def models(self) -> list[str]:
        """Registered model names."""
        return sorted(m.decode() for m in self._call(self.client.smembers, self._k("models")))

    def _version_ids(self, name: str) -> list[str]:
        return [v.decode() for v in self._call(self.client.smembers, self._k("model", name, "versions"))]

    def _read_record(self, name: str, version: str) -> dict[str, Any]:
        raw = self._call(self.client.get, self._k("model", name, "version", version))
        try:
            data: dict[str, Any] = json.loads(raw)
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"{name} {version}: unreadable version record in {self.where} ({exc})") from None
        return data

    def _record_exists(self, name: str, version: str) -> bool:
        return bool(self._call(self.client.exists, self._k("model", name, "version", version)))

    def _write_record(self, name: str, version: str, record: dict[str, Any]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._k("model", name, "version", version), json.dumps(record, sort_keys=True))
        pipe.sadd(self._k("model", name, "versions"), version)
        pipe.sadd(self._k("models"), name)
        self._call(pipe.execute)

    def _read_blob(self, digest: str) -> bytes | None:
        data: bytes | None = self._call(self.client.get, self._k("blob", digest))
        return data

    def _write_blob(self, digest: str, data: bytes) -> None:
        self._call(self.client.set, self._k("blob", digest), data, None, None, True)  # NX

    def _alias_state(self, name: str) -> dict[str, Any]:
        raw = self._call(self.client.get, self._k("model", name, "aliases"))
        if raw is None:
            return {"aliases": {}, "history": []}
        try:
            state: dict[str, Any] = json.loads(raw)
        except ValueError as exc:
            raise RegistryError(f"{name}: unreadable alias state in {self.where} ({exc})") from None
        return state

    def _save_alias_state(self, name: str, state: dict[str, Any], entry: dict[str, Any]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._k("model", name, "aliases"), json.dumps(state, sort_keys=True))
        pipe.publish(self.channel(name), json.dumps({"model": name, **entry}, sort_keys=True))
        self._call(pipe.execute)

    def subscribe(self, name: str) -> Any:
        """A ``redis`` PubSub subscribed to alias moves of ``name`` (messages are JSON history entries).

        Call ``get_message(timeout=...)`` on it in the app's own loop; close it when done.
        """
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self._call(pubsub.subscribe, self.channel(name))
        return pubsub
