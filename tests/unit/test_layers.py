"""The joints between packages: the online side loads without the offline side, no import cycles.

The layer rules themselves are import-linter contracts (``[tool.importlinter]`` in pyproject.toml,
checked by ``lint-imports`` in ``.ci/run``); these tests check what a contract cannot: that each
online package really imports, every module of it, in an interpreter where torch and the offline
packages cannot be imported at all.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

ONLINE = ["ranml.serving", "ranml.xapp", "ranml.rapp", "ranml.dapp", "ranml.e2sim", "ranml.telemetry",
          "ranml.protocols", "ranml.host"]
OFFLINE = ["torch", "optuna", "flwr", "ranml.benchmark", "ranml.export", "ranml.evaluation", "ranml.agent",
           "ranml.demo", "ranml.cli", "ranml.deploy", "ranml.federated"]

_BLOCKED_IMPORT = textwrap.dedent("""
    import importlib, importlib.abc, pkgutil, sys

    BLOCKED = {blocked!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ImportError(f"{{name}} is blocked: the online side must not need it")
            return None

    sys.meta_path.insert(0, Block())
    package = importlib.import_module({package!r})
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
        print(info.name)
""")


@pytest.mark.parametrize("package", ONLINE)
def test_online_package_imports_with_torch_and_the_offline_side_blocked(package: str) -> None:
    code = _BLOCKED_IMPORT.format(blocked=OFFLINE, package=package)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    imported = out.stdout.split()
    assert imported, f"{package} has no submodules to check"
    assert not [m for m in OFFLINE if m in imported]


def test_the_blocker_blocks() -> None:
    """The check above would notice: a module that needs the benchmark fails under the blocker."""
    code = _BLOCKED_IMPORT.format(blocked=OFFLINE, package="ranml.export")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode != 0 and "is blocked" in out.stderr


def _cycles(graph: object, modules: list[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]  # type: ignore[attr-defined]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if not child.startswith("ranml"):
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))  # type: ignore[attr-defined]
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    """No module imports itself back, through any chain (TYPE_CHECKING and function-level imports count)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("ranml")
    modules = sorted(m for m in graph.modules if m.startswith("ranml"))
    assert len(modules) > 100
    assert _cycles(graph, modules) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    class Graph:
        edges = {"ranml.a": {"ranml.b"}, "ranml.b": {"ranml.c"}, "ranml.c": {"ranml.a"}, "ranml.d": {"ranml.a"}}

        def find_modules_directly_imported_by(self, m: str) -> set[str]:
            return self.edges.get(m, set())

    assert _cycles(Graph(), ["ranml.a", "ranml.b", "ranml.c", "ranml.d"]) == [["ranml.a", "ranml.b", "ranml.c"]]


# -- package doors -------------------------------------------------------------------------------

def _package_of(module: str) -> str:
    """The door a module sits behind: ``ranml.<package>``, or ``ranml.protocols.<codec>``.

    In ``ranml.protocols`` each codec is its own door (``e2ap``, ``e2sm``, ``rmr``, ``a1policies``);
    a module ``<codec>_<part>`` is a part of ``<codec>`` (``e2ap_fast`` of ``e2ap``).
    """
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "protocols":
        return ".".join([*parts[:2], parts[2].split("_")[0] if parts[2] != "a1policies" else parts[2]])
    return ".".join(parts[:2])


def _cross_package_imports() -> list[tuple[str, int, str, list[str]]]:
    """``(file, line, imported module, names)`` of every ``from ranml.X... import`` in src that leaves its package."""
    import ast
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src"
    found = []
    for path in sorted(src.rglob("*.py")):
        module = ".".join(path.with_suffix("").relative_to(src).parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("ranml."):
                target = str(node.module)
                if _package_of(target) != _package_of(module):
                    found.append((str(path.relative_to(src)), node.lineno, target, [a.name for a in node.names]))
    return found


def test_packages_use_each_other_through_their_doors() -> None:
    """Across packages, code imports ``from ranml.<package> import <name in its __all__>``, never a deep path."""
    import importlib

    imports = _cross_package_imports()
    assert len(imports) > 100
    deep = [f"{f}:{line} imports {target}" for f, line, target, _ in imports if target != _package_of(target)]
    assert deep == [], "import these through the package's __init__ (add the name to its __all__):\n" + "\n".join(deep)
    outside = [f"{f}:{line} {target}.{name}" for f, line, target, names in imports for name in names
               if name not in importlib.import_module(target).__all__]
    assert outside == [], "imported from a door but not in its __all__:\n" + "\n".join(outside)


DOORS_PIN = "tests/data/package-doors.json"


def test_door_contents_are_pinned() -> None:
    """Each door's ``__all__`` is what the pin says: a change of the public API is a deliberate, reviewed one.

    After such a change, regenerate the pin with
    ``python -c "import tests.unit.test_layers as t; t.write_doors_pin()"``.
    """
    import json
    from pathlib import Path

    pinned = json.loads((Path(__file__).resolve().parents[2] / DOORS_PIN).read_text(encoding="utf-8"))
    assert _doors() == pinned


def _doors() -> dict[str, list[str]]:
    import importlib
    import pkgutil

    import ranml

    out: dict[str, list[str]] = {}
    for info in pkgutil.walk_packages(ranml.__path__, "ranml."):
        if info.ispkg and _package_of(info.name) == info.name:
            names = list(getattr(importlib.import_module(info.name), "__all__", []))
            assert len(names) == len(set(names)), f"{info.name}.__all__ repeats a name"
            module = importlib.import_module(info.name)
            assert all(hasattr(module, n) for n in names), f"{info.name}.__all__ names something it does not have"
            out[info.name] = sorted(names)
    return out


def write_doors_pin() -> None:
    """Write the pin from the doors as they are now."""
    import json
    from pathlib import Path

    (Path(__file__).resolve().parents[2] / DOORS_PIN).write_text(json.dumps(_doors(), indent=1) + "\n",
                                                                encoding="utf-8")
