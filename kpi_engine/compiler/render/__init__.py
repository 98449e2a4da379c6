"""A finished plan → SQL, one module per part of the query, in the order of its CTEs."""

from __future__ import annotations

from sqlglot import exp

from .. import sql
from ..passes.context import CompileContext
from ..plan import CompiledQuery, Plan
from .context import RenderContext
from .final import boolean_columns, empty_values, render_final
from .ranges import render_range, render_range_rows
from .scans import render_scan
from .spine import render_bounds, render_combos, render_periods
from .stocks import render_stock, render_stock_read
from .values import render_values

__all__ = ["render"]


def render(plan: Plan, ctx: CompileContext) -> CompiledQuery:
    rc = RenderContext(plan, ctx)
    ctes: list[tuple[str, exp.Expression]] = []
    for stock in plan.stocks:
        ctes += render_stock_read(rc, stock)
    for scan in plan.scans:
        ctes += render_scan(rc, scan)
    for stock in plan.stocks:
        ctes += render_stock(rc, stock)
    for item in plan.ranges:
        ctes += render_range_rows(rc, item)
    ctes += render_bounds(rc)
    ctes += render_periods(rc)
    for item in plan.ranges:
        ctes += render_range(rc, item)
    if plan.query.by:
        ctes += render_combos(rc, plan.level("d"))
    for level in plan.levels:
        ctes += render_values(rc, level)
    final = render_final(rc)
    with_ = exp.With(expressions=[exp.CTE(this=body, alias=exp.TableAlias(this=sql.ident(name))) for name, body in ctes],
                     recursive=rc.recursive or None)
    final.set("with_" if "with_" in exp.Select.arg_types else "with", with_)
    query = plan.query
    columns = (() if plan.all else ("period",)) + query.by + tuple(name for name, _ in plan.metrics)
    source = ctx.source_name(plan.datasets[0]) if plan.datasets else None
    extents = rc.extent_select()
    return CompiledQuery(final, ctx.dialect.generate(final), columns, tuple(name for name, _ in plan.metrics),
                         query.by, query.grain, source, boolean_columns(rc), lambda: empty_values(rc, plan), ctx.dialect,
                         extent_sql=ctx.dialect.generate(extents, pretty=False) if extents is not None else None,
                         extent_keys=tuple(rc.unranged) if extents is not None else ())
