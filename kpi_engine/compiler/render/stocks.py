"""Stock scans (kpi_k*): +value in the period a row's active span starts, -value in the period it ends.

A stock is taken just before an instant t (t = a period's first instant, or the first instant after it):
the rows with ``from < t`` and (``to`` null or ``to >= t``). Since t is a period boundary, ``from < t``
holds exactly when from's period comes before t's, so the stock at the start of period p is the running
sum of the changes of the periods before p, and at its end the running sum through p: a row that starts
exactly at t is new in t's period, one that ends exactly at t still counts in the stock that opens it.
"""

from __future__ import annotations

from sqlglot import exp

from .. import periods as P
from .. import sql
from ..conditions import shared_filter, without_filter
from ..plan import StockScan
from ..sql import alias, col, lit, not_null, table_ref, wrap
from .context import RenderContext, Source

__all__ = ["render_stock"]


def render_stock(rc: RenderContext, stock: StockScan) -> list[tuple[str, exp.Expression]]:
    plan, d = rc.plan, rc.d
    level = plan.level(stock.level)
    dataset = stock.dataset
    active = rc.catalog.datasets[dataset].model.active
    assert active is not None
    where_filter, shared = shared_filter(stock.filters)
    query_where = rc.where(dataset)
    measures = stock.measures
    used = [m.arg for m in measures] + [m.condition for m in measures] + rc.dims(dataset, level.dims)
    used += [query_where, where_filter]
    tr = rc.row(dataset)
    start_col = col(active.from_, dataset)
    end_col = col(active.to, dataset) if active.to else None
    clamp, hi = plan.bounds.clamp, plan.bounds.hi
    never_active = None
    if end_col is not None:
        # a row whose span ends where it starts, or before, is never active
        never_active = sql.or_(exp.Is(this=end_col.copy(), expression=exp.null()), d.time_gt(end_col.copy(), start_col.copy()))
    branches = []
    for edge, sign in ((start_col, 1), (end_col, -1)):
        if edge is None:
            continue
        base, joins = rc.from_(dataset, used)
        p = d.period_index(edge.copy(), plan.grain)
        if clamp is not None:
            p = d.at_least(p, clamp)
        columns, _ = rc.group_columns(dataset, level.dims, tr, p)
        for m in measures:
            stripped = without_filter(m.condition, shared)
            condition_sql = tr(stripped) if stripped is not None else None
            change = _change(m.func, tr(m.arg) if m.arg is not None else None, sign)
            columns.append(alias(_when(condition_sql, change), m.name))
        conds = [not_null(edge.copy())]
        after = P.start_date_or_none(hi + 1, plan.grain) if hi is not None else None
        if after is not None:
            # changes after the last period do not matter (at=end reads those up to its end)
            conds.append(exp.LT(this=edge.copy(), expression=d.time_literal(after)))
        conds += [c.copy() for c in (never_active,) if c is not None]
        conds += [tr(c) for c in (query_where, where_filter) if c is not None]
        # one row per change; a single GROUP BY below sums them (faster than grouping each side)
        branches.append(sql.select(columns, base, joins=joins, where=sql.and_(*conds)))
    events = branches[0]
    if len(branches) == 2:
        events = exp.Union(this=branches[0], expression=branches[1], distinct=False)
    events_name = f"{stock.cte}e"
    dim_cols = [col(f"d_{dim}") for dim in level.dims]
    sums = [alias(exp.Sum(this=col(m.name)), m.name) for m in measures]
    ctes = [(events_name, events),
            (stock.cte, sql.select([col("p"), *dim_cols, *sums], table_ref(events_name),
                                   group_by=[col("p"), *[c.copy() for c in dim_cols]]))]
    rc.raw.append((stock.cte, "p", clamp is None))
    source = Source(stock.cte, [(m.name, True) for m in measures], True, unbounded=clamp is None)
    if level.dims:
        # the dimension values of rows in some stock of the reported periods: active just before an
        # instant from the first period's start to the end of the last (from < t <= to)
        base, joins = rc.from_(dataset, used)
        joins.extend(rc.bounds_join())
        from_p = d.period_index(start_col.copy(), plan.grain)
        conds = [not_null(start_col.copy()), exp.LTE(this=from_p, expression=rc.bound("hi"))]
        if end_col is not None:
            to_p = d.period_index(end_col.copy(), plan.grain)
            conds += [never_active.copy(), sql.or_(exp.Is(this=end_col.copy(), expression=exp.null()),
                                                    exp.GTE(this=to_p, expression=rc.bound("lo")))]
        conds += [tr(c) for c in (query_where, where_filter) if c is not None]
        columns = [alias(tr(node), f"d_{name}") for name, node in zip(level.dims, rc.dims(dataset, level.dims))]
        source.combos = sql.select(columns, base, joins=joins, where=sql.and_(*conds), distinct=True)
    rc.add_source(stock.level, source)
    return ctes


def _change(func: str, arg: exp.Expression | None, sign: int) -> exp.Expression:
    """What one row adds to (or, where its span ends, removes from) count, count(x) or sum(x)."""
    if func == "sum":
        assert arg is not None
        return wrap(arg) if sign > 0 else exp.Neg(this=wrap(arg))
    one = lit(sign)
    if func == "count" and arg is not None:  # count(x): rows where x is not null
        return _when(not_null(arg), one)
    return one


def _when(condition: exp.Expression | None, value: exp.Expression) -> exp.Expression:
    """``value`` for the rows meeting ``condition``, else 0 (nothing changes)."""
    if condition is None:
        return value
    return exp.Case(ifs=[exp.If(this=condition, true=value)], default=lit(0))
