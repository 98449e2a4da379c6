"""The passes that build a query's plan, in the order they run.

Each is a plain function ``(plan, context) -> plan``: it reads the plan it is given and returns
a new one (plans are frozen), reading the definitions from the context and nothing else. The
first ones check the query and raise every error before anything is planned.
"""

from __future__ import annotations

from collections.abc import Callable

from ..plan import Plan
from .bind_where import bind_where
from .check_grain import check_grain
from .check_query import check_query
from .context import CompileContext
from .fold_into_stocks import fold_into_stocks
from .index_periods import index_periods
from .literal_bounds import literal_bounds
from .place_atoms import place_atoms
from .resolve_kpis import resolve_kpis
from .running_sums import clamp_running_sums
from .widen import widen

__all__ = ["PASSES", "CompileContext", "build_plan"]

Pass = Callable[[Plan, CompileContext], Plan]

PASSES: tuple[Pass, ...] = (
    resolve_kpis,
    check_query,
    bind_where,
    check_grain,
    index_periods,
    place_atoms,
    widen,
    clamp_running_sums,
    fold_into_stocks,
    literal_bounds,
)


def build_plan(plan: Plan, ctx: CompileContext, passes: tuple[Pass, ...] = PASSES) -> Plan:
    for step in passes:
        plan = step(plan, ctx)
    return plan
