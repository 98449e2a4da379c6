"""Pass: --where, parsed and checked by the binder (a row condition over dimension names defined on
every dataset the query reads), ANDed with the query's forced filters (a token's access): each stays
its own subtree, so no condition of the caller (``... or 1 = 1``) can widen them. Each name is
replaced by its dimension's expression per dataset when rendered."""

from __future__ import annotations

import dataclasses

from ...errors import ForbiddenError, QueryError
from ...formulas import syntax as f
from ..conditions import and_nodes
from ..plan import Plan
from .context import CompileContext

__all__ = ["bind_where"]


def bind_where(plan: Plan, ctx: CompileContext) -> Plan:
    where = None
    for condition in plan.query.filters:
        where = and_nodes(where, _forced(condition, plan, ctx))
    if plan.query.where is not None:
        text = f.FormulaText.standalone(plan.query.where, "--where", label="--where condition", error_type=QueryError)
        where = and_nodes(where, ctx.binder.bind_where(text, plan.datasets))
    return dataclasses.replace(plan, where=where) if where is not None else plan


def _forced(condition: str, plan: Plan, ctx: CompileContext) -> f.Node:
    """A forced filter, bound; a dataset the query reads without one of its dimensions cannot be
    filtered, so the query is forbidden (its text is not shown: it is the server's, not the caller's)."""
    text = f.FormulaText.standalone(condition, "access filter", label="access filter", error_type=QueryError)
    node = ctx.binder.bind_where(text, ())
    names = sorted({n.name for n in f.walk(node) if isinstance(n, f.Ref)})
    for dataset in plan.datasets:
        dimensions = ctx.catalog.datasets[dataset].model.dimensions
        missing = [name for name in names if name not in dimensions]
        if missing:
            raise ForbiddenError(f"this query reads dataset '{dataset}', which cannot be limited to the rows "
                                 f"you may see (it has no dimension '{missing[0]}')")
    return ctx.binder.bind_where(text, plan.datasets)
