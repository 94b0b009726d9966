"""The server's screening of site updates: every malformed kind is refused with its reason."""

from __future__ import annotations

import numpy as np
import pytest

from ranml.federated.updates import check_update, layout_of

GLOBAL = {"w": np.zeros((3, 2), dtype=np.float32), "b": np.zeros(2, dtype=np.float32)}


def good() -> dict[str, np.ndarray]:
    return {k: np.ones_like(v) for k, v in GLOBAL.items()}


def test_a_well_formed_update_passes() -> None:
    assert check_update(layout_of(GLOBAL), good(), 100, max_examples=100).ok


@pytest.mark.parametrize(("change", "examples", "reason"), [
    (lambda u: u.pop("b"), 10, "missing ['b']"),
    (lambda u: u.update(extra=np.zeros(1, np.float32)), 10, "unexpected ['extra']"),
    (lambda u: u.update(w=np.zeros((2, 2), np.float32)), 10, "w: shape (2, 2), the model has (3, 2)"),
    (lambda u: u.update(w=np.zeros((3, 2), np.float64)), 10, "w: dtype float64"),
    (lambda u: u["b"].__setitem__(0, np.nan), 10, "b: 1 values are NaN or infinite"),
    (lambda u: u["w"].__setitem__((0, 0), np.inf), 10, "w: 1 values are NaN or infinite"),
    (lambda u: None, -3, "num-examples is -3"),
    (lambda u: None, float("nan"), "num-examples is nan"),
    (lambda u: None, "12", "num-examples is '12'"),
    (lambda u: None, 10_000, "more than the 100 windows"),
])
def test_malformed_updates_are_refused_with_the_reason(change, examples, reason) -> None:
    update = good()
    change(update)
    verdict = check_update(layout_of(GLOBAL), update, examples, max_examples=100)
    assert not verdict.ok
    assert reason in verdict.reason
