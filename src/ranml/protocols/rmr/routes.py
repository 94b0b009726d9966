"""RMR route tables: the text format of ``RMR_SEED_RT`` and Route Manager pushes, and lookup.

Records (``|``-separated, ``#`` comments)::

    newrt|start[|id]   newrt|end[|count]
    rte|<mtype>[,<sender>...]|<groups>[|<sub_id>]
    mse|<mtype>[,<sender>...]|<sub_id>|<groups>
    updatert|start   updatert|end   del|<mtype>[,<sender>...]|<sub_id>
    meid_map|start   mme_ar|<owner host:port>|<meid> <meid> ...   mme_del|<meid> ...   meid_map|end

``<groups>`` is ``ep,ep;ep`` (``;`` fan-out: one copy per group, ``,`` round-robin within a group)
or ``%meid`` (route by the message's meid through the MEID map). Lookup tries (sub_id, mtype)
then falls back to (-1, mtype). Entries whose sender filter does not name this process are
ignored; endpoints equal to this process's own names are dropped (no self-send).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from ranml.errors import RanmlError

__all__ = ["MEID_ROUTE", "RouteError", "RouteTable", "parse_route_table"]

log = logging.getLogger("ranml.protocols.rmr")

MEID_ROUTE = "%meid"


class RouteError(RanmlError):
    """A route table line is invalid, or a message has no route."""


@dataclass
class _Entry:
    groups: list[list[str]] | None  # None: route by meid
    counters: list[itertools.cycle[str]] = field(default_factory=list)


@dataclass
class RouteTable:
    """Routes keyed by (sub_id, mtype), plus the MEID → owner map."""

    entries: dict[tuple[int, int], _Entry] = field(default_factory=dict)
    meid_owner: dict[str, str] = field(default_factory=dict)
    table_id: str | None = None
    ready: bool = False

    def has_route(self, mtype: int, sub_id: int = -1, meid: str = "") -> bool:
        """Whether :meth:`endpoints` would find a target (without advancing round-robin)."""
        entry = self.entries.get((sub_id, mtype)) or self.entries.get((-1, mtype))
        return entry is not None and (entry.groups is not None or meid in self.meid_owner)

    def endpoints(self, mtype: int, sub_id: int = -1, meid: str = "") -> list[str]:
        """One endpoint per group for a message (round-robin within groups).

        Raises
        ------
        RouteError
            No entry for (sub_id, mtype) nor (-1, mtype), or ``%meid`` with an unknown meid.
        """
        entry = self.entries.get((sub_id, mtype)) or self.entries.get((-1, mtype))
        if entry is None:
            raise RouteError(f"no route for mtype {mtype} (sub_id {sub_id})")
        if entry.groups is None:
            owner = self.meid_owner.get(meid)
            if owner is None:
                raise RouteError(f"mtype {mtype} routes by meid, and meid {meid!r} has no owner in the MEID map")
            return [owner]
        if not entry.counters:
            entry.counters = [itertools.cycle(g) for g in entry.groups]
        return [next(c) for c in entry.counters]


def _groups(text: str, own: set[str]) -> list[list[str]] | None:
    text = text.strip()
    if text == MEID_ROUTE:
        return None
    groups = []
    for group in text.split(";"):
        members = [m.strip() for m in group.split(",") if m.strip() and m.strip() not in own]
        if members:
            groups.append(members)
    return groups


def _mtype_and_filter(field_text: str, own: set[str], lineno: int) -> tuple[int, bool]:
    parts = [p.strip() for p in field_text.split(",")]
    try:
        mtype = int(parts[0])
    except ValueError:
        raise RouteError(f"line {lineno}: message type {parts[0]!r} is not a number") from None
    senders = [p for p in parts[1:] if p]
    return mtype, (not senders or any(s in own for s in senders))


def _int(text: str, what: str, lineno: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise RouteError(f"line {lineno}: {what} {text.strip()!r} is not a number") from None


def parse_route_table(text: str, own_names: Iterable[str] = (), base: RouteTable | None = None) -> RouteTable:
    """Parse route-table text (a seed file or Route Manager data) into a :class:`RouteTable`.

    Parameters
    ----------
    text
        The records.
    own_names
        This process's ``name:port`` and ``ip:port`` values (sender filters, self-pruning).
    base
        The live table, for ``updatert`` blocks (ignored until a full table was installed).
    """
    own = set(own_names)
    live = base or RouteTable()
    building: RouteTable | None = None
    updating: RouteTable | None = None
    records = 0
    for lineno, raw in enumerate(text.replace("\r", "\n").split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if " #" in line:
            line = line.split(" #", 1)[0].strip()
        fields = [f.strip() for f in line.split("|")]
        kind = fields[0]
        if kind == "newrt":
            if len(fields) > 1 and fields[1] == "end":
                if building is None:
                    raise RouteError(f"line {lineno}: newrt|end without newrt|start")
                if len(fields) > 2 and fields[2] and _int(fields[2], "record count", lineno) != records:
                    raise RouteError(f"line {lineno}: newrt|end says {fields[2]} records, the table has {records}")
                building.meid_owner = live.meid_owner
                building.ready = True
                live = building
                building = None
            else:
                building = RouteTable(table_id=fields[2] if len(fields) > 2 else None)
                records = 0
        elif kind == "updatert":
            if len(fields) > 1 and fields[1] == "end":
                if updating is not None and live.ready:
                    live = updating
                updating = None
            else:
                updating = RouteTable(dict(live.entries), dict(live.meid_owner), live.table_id, live.ready)
                records = 0
        elif kind in ("rte", "mse", "del"):
            target = building or updating
            if target is None:
                raise RouteError(f"line {lineno}: {kind} outside newrt/updatert start..end")
            records += 1
            if kind == "rte":
                if len(fields) < 3:
                    raise RouteError(f"line {lineno}: rte needs rte|<mtype>|<endpoints>")
                mtype, mine = _mtype_and_filter(fields[1], own, lineno)
                sub_id = _int(fields[3], "sub_id", lineno) if len(fields) > 3 and fields[3] else -1
                groups_text = fields[2]
            elif kind == "mse":
                if len(fields) < 4:
                    raise RouteError(f"line {lineno}: mse needs mse|<mtype>|<sub_id>|<endpoints>")
                mtype, mine = _mtype_and_filter(fields[1], own, lineno)
                sub_id, groups_text = _int(fields[2], "sub_id", lineno), fields[3]
            else:
                mtype, mine = _mtype_and_filter(fields[1], own, lineno)
                sub_id = _int(fields[2], "sub_id", lineno) if len(fields) > 2 else -1
                if mine:
                    target.entries.pop((sub_id, mtype), None)
                continue
            if mine:
                target.entries[(sub_id, mtype)] = _Entry(_groups(groups_text, own))
        elif kind == "meid_map":
            continue
        elif kind == "mme_ar":
            if len(fields) < 3:
                raise RouteError(f"line {lineno}: mme_ar needs mme_ar|<owner>|<meid> ...")
            for meid in fields[2].split():
                live.meid_owner[meid] = fields[1]
        elif kind == "mme_del":
            for meid in (fields[1] if len(fields) > 1 else "").split():
                live.meid_owner.pop(meid, None)
        else:
            raise RouteError(f"line {lineno}: unknown record {kind!r}")
    if building is not None:
        log.warning("route table ends inside newrt|start without newrt|end; not installed")
    return live


def seed_route_table(own_names: Iterable[str] = (), path: str | None = None) -> RouteTable:
    """The route table in ``path`` (default: the file named by ``RMR_SEED_RT``); empty when unset.

    Raises
    ------
    RouteError
        The file cannot be read or does not parse (the message names the file).
    """
    import os
    from pathlib import Path

    path = path or os.environ.get("RMR_SEED_RT")
    if not path:
        return RouteTable()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RouteError(f"RMR_SEED_RT={path}: cannot read the route table ({exc.strerror})") from None
    try:
        return parse_route_table(text, own_names)
    except RouteError as exc:
        raise RouteError(f"{path}: {exc}") from None
