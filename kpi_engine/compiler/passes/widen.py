"""Pass: how far back each scan and range aggregate reads, and the spine with it.

previous(x, n) needs x n periods before the first reported one; rolling(x, n) the n - 1
periods before those; to_date(x, g) the start of the enclosing g. Only with a --from: without
one every row is read anyway.
"""

from __future__ import annotations

import dataclasses

from ...formulas.binder import Atom
from .. import periods as P
from ..plan import Plan
from .context import CompileContext, scan_key, shift_moves

__all__ = ["widen"]


def widen(plan: Plan, ctx: CompileContext) -> Plan:
    lo = plan.bounds.lo
    if lo is None or plan.all:
        return plan
    spine_lower = plan.bounds.spine_lower
    for atom in plan.atoms:
        base = dataclasses.replace(atom, shift=())
        level = "t" if atom.total else "d"
        first = _shifted(lo, atom, plan)
        spine_lower = first if spine_lower is None else min(spine_lower, first)
        needed = _first_needed(base, first, plan)
        ranged = next((r for r in plan.ranges if r.atom == base and r.level == level), None)
        if ranged is not None:
            lower = needed if ranged.lower is None else min(ranged.lower, needed)
            plan = plan.replace_item("ranges", ranged, dataclasses.replace(ranged, lower=lower))
            continue
        if base.at is not None:
            continue
        key = scan_key(base, level, ctx.catalog)
        scan = next((s for s in plan.scans if (s.dataset, s.time, s.level) == key), None)
        if scan is not None:
            lower = needed if scan.lower is None else min(scan.lower, needed)
            plan = plan.replace_item("scans", scan, dataclasses.replace(scan, lower=lower))
            # windows run over spine rows, so the spine reaches back as far as the rows
            spine_lower = min(spine_lower, needed)
    return dataclasses.replace(plan, bounds=dataclasses.replace(plan.bounds, spine_lower=spine_lower))


def _shifted(lo: int, atom: Atom, plan: Plan) -> int:
    """The first period a shifted atom reads (the shift of the first reported one: shifts keep order)."""
    if not atom.shift:
        return lo
    moves = shift_moves(atom, plan)
    first = P.shifted_index(lo, moves, plan.grain, plan.calendar)
    return first if first is not None else lo - P.reach(moves, plan.grain)


def _first_needed(atom: Atom, first: int, plan: Plan) -> int:
    window = atom.window
    if window is not None and window.kind == "rolling":
        return first - (window.periods - 1)
    if window is not None and window.kind == "to_date":
        return P.group_start(first, plan.grain, window.grain, plan.calendar)
    return first
