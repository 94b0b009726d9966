"""Cutting zoo models for split learning, and the bytes the two halves exchange."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ranml.benchmark import ModelShape, resolve_model
from ranml.errors import FederationError
from ranml.federated.split import cut_points, split_model
from ranml.federated.split_wire import pack, unpack

SHAPE = ModelShape(input_steps=32, horizon=4, n_features=3)
X = torch.randn(6, 32, 3)


@pytest.mark.parametrize("name", ["mlp", "lstm", "gru", "tcn", "patchtst", "transformer", "nhits", "mamba",
                                  "autoformer", "informer", "timesnet"])
def test_every_cut_composes_back_to_the_whole_model(name: str) -> None:
    torch.manual_seed(0)
    net = resolve_model(name)(SHAPE).net.eval()
    points = cut_points(net, X)
    assert points, f"{name} offers no cut point"
    with torch.no_grad():
        whole = net(X)
        for point in points:
            split = split_model(net, point.name, X)
            crossing = split.site(X)
            assert [tuple(c.shape[1:]) for c in crossing] == list(point.crossing)
            assert torch.allclose(split.server(*crossing), whole, atol=1e-5), point.name
            assert point.site_params + point.server_params <= sum(p.numel() for p in net.parameters())


def test_gradients_through_the_cut_are_the_whole_models() -> None:
    torch.manual_seed(0)
    net = resolve_model("lstm")(SHAPE).net.train()
    y = torch.randn(6, 4)
    torch.nn.functional.mse_loss(net(X), y).backward()
    whole = {n: p.grad.clone() for n, p in net.named_parameters()}
    net.zero_grad()
    split = split_model(net, "rnn", X)
    crossing = split.site(X)
    shipped = [c.detach().requires_grad_(True) for c in crossing]  # what the server receives
    torch.nn.functional.mse_loss(split.server(*shipped), y).backward()
    torch.autograd.backward(list(crossing), [s.grad for s in shipped])  # the gradients sent back
    for n, p in net.named_parameters():
        assert torch.allclose(p.grad, whole[n], atol=1e-6), n


def test_the_server_never_gets_the_raw_window() -> None:
    """DLinear adds the raw window's seasonal part at the end: no cut may hand the server the input."""
    net = resolve_model("dlinear")(SHAPE).net
    names = [p.name for p in cut_points(net, X)]
    assert "average" not in names


def test_a_module_used_on_both_sides_is_not_cut_through() -> None:
    class Shared(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Linear(3, 3)
            self.b = torch.nn.Linear(3, 3)

        def forward(self, x):
            return self.a(self.b(self.a(x)))

    assert [p.name for p in cut_points(Shared(), torch.randn(2, 3))] == []


def test_an_invalid_cut_names_the_valid_ones() -> None:
    net = resolve_model("lstm")(SHAPE).net
    with pytest.raises(FederationError, match=r"valid: \['rnn'\]"):
        split_model(net, "head", X)


def test_messages_round_trip() -> None:
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], dtype=np.int64)]
    fields, back = unpack(pack({"step": 3, "note": "x"}, arrays))
    assert fields == {"step": 3, "note": "x"}
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(arrays, back, strict=True))


@pytest.mark.parametrize("mangle", [
    lambda m: m[:3],
    lambda m: m[:-1],
    lambda m: m + b"x",
    lambda m: b"\xff\xff\xff\x00" + m[4:],
    lambda m: m[:4] + b"[" + m[5:],
    lambda m: m.replace(b"float32", b"object!"),
])
def test_malformed_messages_are_refused(mangle) -> None:
    message = pack({"step": 1}, [np.ones((2, 2), np.float32)])
    with pytest.raises(FederationError, match="malformed"):
        unpack(mangle(message))
