"""Pass: whether every bound is a literal, written where it is used (no kpi_bounds CTE): both
--from and --to given, and no aggregate reading every earlier row."""

from __future__ import annotations

import dataclasses

from ..plan import Plan
from .context import CompileContext

__all__ = ["literal_bounds"]


def literal_bounds(plan: Plan, ctx: CompileContext) -> Plan:
    bounds = plan.bounds
    reads_history = any(r.atom.at or (r.atom.window and r.atom.window.kind == "cumulative") for r in plan.ranges) \
        or (bounds.lo is None and bool(plan.stocks))
    literal = bounds.lo is not None and bounds.hi is not None and not reads_history
    return dataclasses.replace(plan, bounds=dataclasses.replace(bounds, literal=literal))
