"""The cells of a scenario as the simulator numbers them: order, cell global ids, neighbours."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ranml.e2sim.network import Network
from ranml.e2sim.scenario import CellSpec, Scenario
from ranml.e2sim.traffic import build_trace
from ranml.protocols.e2sm import NrCgi, plmn_from_text

__all__ = ["Layout", "auto_neighbours", "build_layout", "build_network"]


@dataclass(frozen=True)
class Layout:
    """Cells of every node in one flat order (the :class:`Network`'s array index)."""

    cells: list[CellSpec]
    cgis: list[NrCgi]  # per cell index
    node_cells: list[list[int]]  # per node (scenario order): its cell indices
    neighbours: list[list[int]]  # per cell index

    @property
    def node_of(self) -> list[int]:
        """The node index of every cell."""
        return [g for g, idx in enumerate(self.node_cells) for _ in idx]


def auto_neighbours(node_cells: list[list[int]]) -> list[set[int]]:
    """Cells of a node neighbour each other; cell j of node g neighbours cell j of nodes g±1."""
    n = sum(len(c) for c in node_cells)
    out: list[set[int]] = [set() for _ in range(n)]
    for cells in node_cells:
        for a in cells:
            out[a].update(b for b in cells if b != a)
    for g, cells in enumerate(node_cells):
        nxt = node_cells[(g + 1) % len(node_cells)]
        if nxt is cells:
            continue
        for j, a in enumerate(cells):
            if j < len(nxt):
                out[a].add(nxt[j])
                out[nxt[j]].add(a)
    return out


def build_layout(scenario: Scenario) -> Layout:
    """Number the scenario's cells; a cell's id is ``gnb_id << 14 | (j + 1)`` unless it gives one."""
    cells: list[CellSpec] = []
    cgis: list[NrCgi] = []
    node_cells: list[list[int]] = []
    plmn = plmn_from_text(scenario.plmn)
    for spec in scenario.all_nodes():
        idx = []
        for j, cell in enumerate(spec.cells):
            nci = cell.nr_cell_id if cell.nr_cell_id is not None else (spec.gnb_id << 14) | (j + 1)
            cgis.append(NrCgi(plmn, nci))
            idx.append(len(cells))
            cells.append(cell)
        node_cells.append(idx)
    if scenario.neighbours == "auto":
        neighbours = [sorted(s) for s in auto_neighbours(node_cells)]
    else:
        names = [c.name for c in cells]
        sets: list[set[int]] = [set() for _ in cells]
        for a, b in scenario.neighbours:
            sets[names.index(a)].add(names.index(b))
            sets[names.index(b)].add(names.index(a))
        neighbours = [sorted(s) for s in sets]
    return Layout(cells, cgis, node_cells, neighbours)


def build_network(scenario: Scenario, layout: Layout, noise_seed: int | None = None) -> Network:
    """The scenario's network, its traffic trace aligned so that simulated second 0 is ``start``."""
    network = Network(scenario, layout.cells, layout.node_of, layout.neighbours, build_trace(scenario, layout.cells),
                      noise_seed=noise_seed)
    start = pd.Timestamp(scenario.start)
    network.trace_offset_s = (start - start.normalize()).total_seconds()
    return network
