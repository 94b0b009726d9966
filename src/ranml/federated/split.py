"""Cutting a zoo model in two for split learning: the site's layers and the server's.

The model's module is traced with ``torch.fx``, its direct children kept whole (an LSTM, an
encoder, a block stack stay one step). A cut point is named after the child it follows: the site
runs the graph up to, and including, that child and the glue after it (indexing, reshapes) until
the next child; the server runs the rest. What crosses the cut are the tensors the server's part
needs from the site's part, each way per step: activations forward, their gradients back.

A cut is offered only if both parts have weights and the server's part does not read the raw input
window (that would ship the site's data, which split learning exists to avoid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ranml.errors import FederationError

__all__ = ["CutPoint", "SplitModel", "cut_points", "split_model"]


@dataclass(frozen=True)
class CutPoint:
    """One place a model can be cut."""

    name: str
    """The child module the site's part ends with."""
    module: str
    """Its class (``Linear``, ``LSTM``, ``TransformerEncoder``…)."""
    index: int
    """Position of that child among the module calls (0: the first)."""
    site_params: int
    server_params: int
    crossing: tuple[tuple[int, ...], ...]
    """Shapes of the tensors that cross the cut for one window (batch dimension left out)."""

    @property
    def floats_per_window(self) -> int:
        """Numbers crossing the cut per window, one way."""
        total = 0
        for shape in self.crossing:
            n = 1
            for d in shape:
                n *= d
            total += n
        return total


@dataclass
class SplitModel:
    """The two parts of a cut model; each is a ``torch.nn.Module`` sharing the model's weights.

    ``site(x)`` returns the tensors that cross the cut (a tuple); ``server(*crossing)`` the forecast.
    """

    cut: CutPoint
    site: Any
    server: Any


def _trace(net: Any) -> Any:
    from torch import fx

    children = {id(m) for m in net.children()}

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m: Any, qualified_name: str) -> bool:
            return id(m) in children or super().is_leaf_module(m, qualified_name)

    try:
        graph = Tracer().trace(net)
    except (TypeError, RuntimeError, NotImplementedError, AttributeError) as exc:
        raise FederationError(f"the model's module cannot be traced for split learning ({type(exc).__name__}: "
                              f"{exc}); choose another model") from None
    return fx.GraphModule(net, graph)


def _parts(gm: Any, net: Any, boundary: int) -> Any:
    """Split ``gm`` before node ``boundary`` (site: nodes before it; server: the rest)."""
    from torch.fx.passes.split_module import split_module

    order = {node: i for i, node in enumerate(gm.graph.nodes)}
    return split_module(gm, net, lambda node: 0 if order[node] < boundary else 1)


def _bound(parts: Any, net: Any) -> tuple[Any, Any] | None:
    """The site's and the server's part as modules of their own, or ``None`` if the server reads the raw window.

    ``split_module`` keeps the model's directly read tensors (positional encodings, constants) at
    the top and passes them in; here each part holds them itself (the same tensor objects, so
    parameters stay shared and train), and the site returns exactly what the server takes.
    """
    import operator

    import torch

    calls = {n.target: n for n in parts.graph.nodes if n.op == "call_module"}
    site_call, server_call = calls.get("submod_0"), calls.get("submod_1")
    if site_call is None or server_call is None:
        return None
    site_slots: list[tuple[str, Any]] = []
    for arg in site_call.args:
        if arg.op == "placeholder":
            site_slots.append(("input", None))
        elif arg.op == "get_attr":
            site_slots.append(("attr", _attr(net, str(arg.target))))
        else:
            return None
    server_slots: list[tuple[str, Any]] = []
    for arg in server_call.args:
        if arg.op == "get_attr":
            server_slots.append(("attr", _attr(net, str(arg.target))))
        elif arg is site_call:
            server_slots.append(("input", 0))
        elif arg.op == "call_function" and arg.target is operator.getitem and arg.args[0] is site_call:
            server_slots.append(("input", int(arg.args[1])))
        else:  # the raw window, or anything computed outside the two parts
            return None
    wiring = tuple(int(v) for kind, v in server_slots if kind == "input")

    class Site(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.part = parts.submod_0
            self._consts = _hold(self, [v for kind, v in site_slots if kind == "attr"])

        def forward(self, x: Any) -> tuple[Any, ...]:
            consts = iter(getattr(self, name) for name in self._consts)
            out = self.part(*[x if kind == "input" else next(consts) for kind, _ in site_slots])
            outputs = out if isinstance(out, tuple) else (out,)
            return tuple(outputs[i] for i in wiring)

    class Server(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.part = parts.submod_1
            self._consts = _hold(self, [v for kind, v in server_slots if kind == "attr"])

        def forward(self, *crossing: Any) -> Any:
            consts, inputs = iter(getattr(self, name) for name in self._consts), iter(crossing)
            return self.part(*[next(inputs) if kind == "input" else next(consts) for kind, _ in server_slots])

    return Site(), Server()


def _hold(module: Any, values: list[Any]) -> list[str]:
    """Register tensors a part reads directly (the same objects: a parameter stays shared and trains)."""
    import torch

    names = []
    for i, value in enumerate(values):
        name = f"const_{i}"
        if isinstance(value, torch.nn.Parameter):
            module.register_parameter(name, value)
        else:
            module.register_buffer(name, value)
        names.append(name)
    return names


def _attr(net: Any, target: str) -> Any:
    value = net
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _params(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def _candidates(gm: Any) -> list[tuple[str, int, int]]:
    """(child name, its call index, the node index where the server's part starts) for every child but the last."""
    nodes = list(gm.graph.nodes)
    calls = [i for i, n in enumerate(nodes) if n.op == "call_module"]
    return [(str(nodes[i].target), k, calls[k + 1]) for k, i in enumerate(calls[:-1])]


def cut_points(net: Any, example: Any) -> list[CutPoint]:
    """Every valid cut of ``net`` (a ``torch.nn.Module``), with what crosses it for ``example``.

    Raises
    ------
    FederationError
        The module cannot be traced.
    """
    return [point for point, _ in _cuts(net, example)]


def _cuts(net: Any, example: Any, only: str | None = None) -> list[tuple[CutPoint, tuple[Any, Any]]]:
    import torch

    gm = _trace(net)
    out = []
    for name, index, boundary in _candidates(gm):
        if only is not None and name != only:
            continue
        bound = _bound(_parts(gm, net, boundary), net)
        if bound is None:
            continue
        site, server = bound
        if not _params(site) or not _params(server):
            continue
        if {id(p) for p in site.parameters()} & {id(p) for p in server.parameters()}:
            continue  # a module called on both sides of the cut: its weights would diverge
        with torch.no_grad():
            crossing = site(example[:1])
        if not all(isinstance(t, torch.Tensor) for t in crossing):
            continue
        point = CutPoint(name, type(gm.get_submodule(name)).__name__, index, _params(site), _params(server),
                         tuple(tuple(int(d) for d in t.shape[1:]) for t in crossing))
        out.append((point, bound))
    return out


def split_model(net: Any, cut: str, example: Any) -> SplitModel:
    """Cut ``net`` after the child ``cut``; the parts share the module's weights.

    Raises
    ------
    FederationError
        ``cut`` is not a valid cut point; the message lists the valid ones.
    """
    cuts = {point.name: (point, bound) for point, bound in _cuts(net, example, only=cut)}
    if cut not in cuts:
        valid = sorted(p.name for p in cut_points(net, example))
        raise FederationError(f"cut point {cut!r} is not valid for this model; valid: {valid} (the child "
                              "module the site's part ends with; both parts need weights and the server may not "
                              "read the raw window)")
    point, (site, server) = cuts[cut]
    return SplitModel(point, site, server)
