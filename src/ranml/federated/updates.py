"""Screening of the model updates sites send, before any of them is aggregated.

A site with a bug, a bad disk or bad intent can send weights with the wrong names or shapes, NaN
or infinite values, or a made-up example count. One such update averaged in ruins the global
model, so every update is checked against the global model's layout first and refused with the
reason; the round goes on with the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Layout", "UpdateCheck", "check_update", "layout_of"]

Layout = dict[str, tuple[tuple[int, ...], str]]
"""Name → (shape, dtype) of every array of the global model."""


@dataclass(frozen=True)
class UpdateCheck:
    """The verdict on one update: ``reason`` is empty when it may be aggregated."""

    reason: str = ""

    @property
    def ok(self) -> bool:
        """Whether the update may be aggregated."""
        return not self.reason


def layout_of(arrays: Mapping[str, np.ndarray]) -> Layout:
    """The layout of a set of named arrays."""
    return {k: (tuple(int(d) for d in v.shape), str(v.dtype)) for k, v in arrays.items()}


def check_update(layout: Layout, arrays: Mapping[str, np.ndarray], examples: object,
                 max_examples: int | None = None) -> UpdateCheck:
    """Check one site's update against the global model's layout.

    Parameters
    ----------
    layout
        The global model's arrays (:func:`layout_of`).
    arrays
        The update's arrays by name.
    examples
        The example count the site reports (its weight in the average).
    max_examples
        The most examples the site can have (what it reported when it joined); ``None``: no cap.

    Returns
    -------
    UpdateCheck
        Empty reason when the update may be aggregated; otherwise what is wrong with it.
    """
    missing = sorted(set(layout) - set(arrays))
    extra = sorted(set(arrays) - set(layout))
    if missing or extra:
        return UpdateCheck(f"arrays do not match the model: missing {missing[:3]}, unexpected {extra[:3]}")
    for name, (shape, dtype) in layout.items():
        value = arrays[name]
        if tuple(value.shape) != shape:
            return UpdateCheck(f"{name}: shape {tuple(value.shape)}, the model has {shape}")
        if str(value.dtype) != dtype:
            return UpdateCheck(f"{name}: dtype {value.dtype}, the model has {dtype}")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            return UpdateCheck(f"{name}: {int((~np.isfinite(value)).sum())} values are NaN or infinite")
    if isinstance(examples, bool) or not isinstance(examples, int | float) or not np.isfinite(examples) \
            or examples <= 0:
        return UpdateCheck(f"num-examples is {examples!r}; it must be a positive number")
    if max_examples is not None and examples > max_examples:
        return UpdateCheck(f"num-examples {examples} is more than the {max_examples} windows the site has")
    return UpdateCheck()
