"""Faults a site injects on purpose (``sites[].faults``), so that the server's defences are tested."""

from __future__ import annotations

from typing import Any

__all__ = ["corrupt_update"]


def corrupt_update(state: dict[str, Any], examples: float, kind: str) -> tuple[dict[str, Any], float]:
    """A broken copy of a site's update.

    Parameters
    ----------
    state
        The site's weights (torch tensors by name); not modified.
    examples
        The site's example count.
    kind
        ``nan``: the first array is all NaN; ``shape``: the first array loses its last row;
        ``examples``: the example count is negative.
    """
    out = {k: v.clone() for k, v in state.items()}
    first = next(iter(out))
    if kind == "nan":
        out[first].fill_(float("nan"))
    elif kind == "shape":
        out[first] = out[first][:-1].clone()
    elif kind == "examples":
        return out, -abs(examples) - 1.0
    else:
        raise ValueError(f"unknown malformed update kind {kind!r}; use nan, shape or examples")
    return out, examples
