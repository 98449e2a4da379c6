"""Pass: the calendar of the query (the project's, in the query's time zone), the reported periods as integer
indexes in it, and the levels values are computed at."""

from __future__ import annotations

import dataclasses

from .. import periods as P
from ..plan import Bounds, LevelPlan, Plan
from .context import CompileContext

__all__ = ["index_periods"]


def index_periods(plan: Plan, ctx: CompileContext) -> Plan:
    query = plan.query
    calendar = ctx.calendar if query.timezone is None else dataclasses.replace(ctx.calendar, timezone=query.timezone)
    if plan.all:
        lo = hi = 0
    else:
        lo = P.index_of(query.start, plan.grain, calendar) if query.start else None
        hi = P.index_of(query.end, plan.grain, calendar) if query.end else None
    levels = [LevelPlan("d", query.by)]
    if any(atom.total for atom in plan.atoms):
        levels.append(LevelPlan("t", ()))
    return dataclasses.replace(plan, bounds=Bounds(lo=lo, hi=hi, spine_lower=lo), levels=tuple(levels),
                               calendar=calendar)
