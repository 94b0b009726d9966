"""Open a registry from where it lives: a folder (local backend) or a Redis URL."""

from __future__ import annotations

from pathlib import Path

from ranml.serving.registry import BaseRegistry, LocalRegistry

__all__ = ["open_registry"]


def open_registry(where: str | Path) -> BaseRegistry:
    """A registry from a location: ``redis://host:port/db`` (Redis backend) or a folder (local)."""
    text = str(where)
    if text.startswith(("redis://", "rediss://", "unix://")):
        from ranml.serving.redis_registry import RedisRegistry

        return RedisRegistry.from_url(text)
    return LocalRegistry(text)
