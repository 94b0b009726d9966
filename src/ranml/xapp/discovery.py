"""Which E2 nodes the xApp works with: configured names, and the E2 manager's REST API (``/v1/nodeb``)."""

from __future__ import annotations

import contextlib
import logging

from ranml.protocols.e2sm import CccCodec, E2smError, NrCgi
from ranml.xapp.context import NodeInfo

__all__ = ["discover_nodes", "nodes_from_e2mgr"]

log = logging.getLogger("ranml.xapp.discovery")
_DEFAULT_FUNCTIONS = {"kpm": 2, "rc": 3, "ccc": 4}


async def discover_nodes(names: list[str], e2mgr_url: str | None) -> dict[str, NodeInfo]:
    """Configured nodes (default RAN function ids), then the connected nodes the E2 manager knows."""
    nodes = {m: NodeInfo(m, functions=dict(_DEFAULT_FUNCTIONS)) for m in names}
    if e2mgr_url:
        nodes.update(await nodes_from_e2mgr(e2mgr_url.rstrip("/")))
    return nodes


def _function_kind(oid: str) -> str | None:
    return ("kpm" if oid.endswith(".2.2.2") else "rc" if oid.endswith(".2.3")
            else "ccc" if oid.endswith(".2.4") else None)


async def nodes_from_e2mgr(base: str) -> dict[str, NodeInfo]:
    """Connected nodes, their RAN functions and cells: ``GET {base}/v1/nodeb/states``, then ``/v1/nodeb/{name}``."""
    import httpx

    out: dict[str, NodeInfo] = {}
    async with httpx.AsyncClient(timeout=5.0) as client:
        states = (await client.get(f"{base}/v1/nodeb/states")).json()
        for entry in states:
            name = entry["inventoryName"]
            if entry.get("connectionStatus") not in (None, "CONNECTED"):
                continue
            data = (await client.get(f"{base}/v1/nodeb/{name}")).json()
            functions: dict[str, int] = {}
            cells: list[NrCgi] = []
            for f in data.get("gnb", {}).get("ranFunctions", []):
                kind = _function_kind(f.get("ranFunctionOid", ""))
                if kind:
                    functions[kind] = int(f["ranFunctionId"])
                if kind == "ccc":
                    with contextlib.suppress(E2smError, ValueError):
                        cells = list(CccCodec().decode_ran_function(bytes.fromhex(f["ranFunctionDefinition"])))
            for c in data.get("gnb", {}).get("servedNrCells", []):
                plmn, _, nci = c.get("servedNrCellInformation", {}).get("cellId", "").partition(":")
                with contextlib.suppress(ValueError):
                    cgi = NrCgi(bytes.fromhex(plmn), int(nci, 16))
                    if cgi not in cells:
                        cells.append(cgi)
            plmn_hex = data.get("globalNbId", {}).get("plmnId", "00f110")
            out[name] = NodeInfo(name, tuple(cells), functions, bytes.fromhex(plmn_hex))
    return out
