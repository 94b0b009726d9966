"""State stores: what a restarted xApp needs (last actions, model version, recent history).

:class:`MemoryStateStore` is the embedded default; :class:`RedisStateStore` keeps the OSC SDL key
layout (``{<namespace>},<key>`` in one Redis database, values as bytes), so the data is readable
with the SDL libraries, and finds Redis through the RIC's DBaaS variables
(``DBAAS_SERVICE_HOST`` / ``DBAAS_SERVICE_PORT``). When Redis is down, the Redis store keeps
serving from its in-memory copy, logs the outage once, and writes everything back when Redis
returns.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Protocol

from ranml.errors import RanmlError

__all__ = ["MemoryStateStore", "RedisStateStore", "StateStore", "open_state_store"]

log = logging.getLogger("ranml.xapp.state")


class StateStore(Protocol):
    """Namespaced key/value store of JSON values."""

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key`` (``default`` when absent)."""

    def set(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value."""

    def delete(self, key: str) -> None:
        """Remove ``key``."""

    def keys(self) -> list[str]:
        """All keys of the namespace."""


class MemoryStateStore:
    """In-process store (lost on restart)."""

    def __init__(self, namespace: str = "ranml") -> None:
        self.namespace = namespace
        self._data: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``."""
        raw = self._data.get(key)
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        """Store a value (serialised now, so later mutation of ``value`` does not leak in)."""
        self._data[key] = json.dumps(value)

    def delete(self, key: str) -> None:
        """Remove ``key``."""
        self._data.pop(key, None)

    def keys(self) -> list[str]:
        """All keys."""
        return sorted(self._data)


class RedisStateStore:
    """SDL-compatible Redis store with an in-memory copy that covers outages.

    Parameters
    ----------
    namespace
        The SDL namespace (keys are ``{namespace},key``).
    host, port
        Redis address; default from ``DBAAS_SERVICE_HOST`` / ``DBAAS_SERVICE_PORT``, else
        127.0.0.1:6379.
    retry_s
        How long to wait after a failure before trying Redis again.
    """

    def __init__(self, namespace: str, host: str | None = None, port: int | None = None, db: int = 0,
                 retry_s: float = 2.0, timeout_s: float = 0.5) -> None:
        self.namespace = namespace
        self.host = host or os.environ.get("DBAAS_SERVICE_HOST", "127.0.0.1")
        self.port = port or int(os.environ.get("DBAAS_SERVICE_PORT", "6379"))
        self.db, self.retry_s, self.timeout_s = db, retry_s, timeout_s
        self._client: Any = None
        self._cache: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._deleted: set[str] = set()
        self._down_since: float | None = None
        self._next_try = 0.0
        self.outages = 0

    def _key(self, key: str) -> str:
        return f"{{{self.namespace}}},{key}"

    def _redis(self) -> Any:
        if self._client is None:
            try:
                import redis
            except ImportError as exc:
                raise RanmlError("the Redis state store needs redis: pip install 'ranml[ric]'") from exc
            self._client = redis.Redis(host=self.host, port=self.port, db=self.db, socket_timeout=self.timeout_s,
                                       socket_connect_timeout=self.timeout_s)
        return self._client

    def _call(self, fn: Any) -> Any:
        """Run ``fn(redis)``; on failure mark the outage (logged once) and return ``None``."""
        now = time.monotonic()
        if self._down_since is not None and now < self._next_try:
            return None
        try:
            result = fn(self._redis())
        except Exception as exc:  # redis raises ConnectionError, TimeoutError, ...
            if self._down_since is None:
                self._down_since = now
                self.outages += 1
                log.warning("Redis %s:%d unavailable (%s); serving state from memory until it returns",
                            self.host, self.port, type(exc).__name__)
            self._next_try = now + self.retry_s
            return None
        if self._down_since is not None:
            log.warning("Redis %s:%d back after %.1fs; writing %d changed keys", self.host, self.port,
                        now - self._down_since, len(self._dirty) + len(self._deleted))
            self._down_since = None
            self._flush()
        return result

    def _flush(self) -> None:
        dirty, deleted = set(self._dirty), set(self._deleted)
        self._dirty.clear()
        self._deleted.clear()
        for key in dirty:
            if key in self._cache:
                self._call(lambda r, k=key: r.set(self._key(k), self._cache[k].encode()))
        for key in deleted:
            self._call(lambda r, k=key: r.delete(self._key(k)))

    @property
    def available(self) -> bool:
        """Whether the last Redis call succeeded."""
        return self._down_since is None

    def load(self) -> int:
        """Read the whole namespace into memory (at start); returns the number of keys."""
        prefix = self._key("")
        found = self._call(lambda r: {k.decode()[len(prefix):]: r.get(k) for k in r.scan_iter(match=prefix + "*")})
        if found:
            for key, raw in found.items():
                if raw is not None:
                    self._cache[key] = raw.decode()
        return len(self._cache)

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key`` (from memory; Redis is read at :meth:`load`)."""
        raw = self._cache.get(key)
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        """Store in memory and Redis (Redis later if it is down)."""
        raw = json.dumps(value)
        self._cache[key] = raw
        self._deleted.discard(key)
        if self._call(lambda r: r.set(self._key(key), raw.encode())) is None:
            self._dirty.add(key)

    def delete(self, key: str) -> None:
        """Remove ``key``."""
        self._cache.pop(key, None)
        self._dirty.discard(key)
        if self._call(lambda r: r.delete(self._key(key))) is None:
            self._deleted.add(key)

    def keys(self) -> list[str]:
        """All keys (from memory)."""
        return sorted(self._cache)


def open_state_store(kind: str, namespace: str) -> MemoryStateStore | RedisStateStore:
    """``memory`` or ``redis`` (DBaaS env vars); ``auto`` picks Redis when ``DBAAS_SERVICE_HOST`` is set."""
    if kind == "auto":
        kind = "redis" if os.environ.get("DBAAS_SERVICE_HOST") else "memory"
    if kind == "memory":
        return MemoryStateStore(namespace)
    if kind == "redis":
        store = RedisStateStore(namespace)
        store.load()
        return store
    raise RanmlError(f"unknown state store {kind!r}; use memory, redis or auto")
