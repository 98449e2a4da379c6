"""Stock scans: one read of the dataset (kpi_k*g), grouped by the periods a row's active span starts
and ends in; from it +value in the period a span starts, -value in the period it ends (kpi_k*e), summed
per period (kpi_k*).

A stock is taken just before an instant t (t = a period's first instant, or the first instant after it):
the rows with ``from < t`` and (``to`` null or ``to >= t``). Since t is a period boundary, ``from < t``
holds exactly when from's period comes before t's, so the stock at the start of period p is the running
sum of the changes of the periods before p, and at its end the running sum through p: a row that starts
exactly at t is new in t's period, one that ends exactly at t still counts in the stock that opens it.

Flows placed by the from or to column (``passes/fold_into_stocks``) are measures of the same read;
``scans`` regroups them by their side's period.
"""

from __future__ import annotations

from sqlglot import exp

from .. import periods as P
from .. import sql
from ..conditions import shared_filter, without_filter
from ..plan import FlowScan, StockScan
from ..sql import alias, col, lit, not_null, table_ref
from .context import RenderContext, Source

__all__ = ["render_stock", "render_stock_read", "seen_rows"]


def _folded(rc: RenderContext, stock: StockScan) -> list[FlowScan]:
    return [scan for scan in rc.plan.scans if scan.folded_into == stock.cte]


def render_stock_read(rc: RenderContext, stock: StockScan) -> list[tuple[str, exp.Expression]]:
    """kpi_k*g: the one read of the dataset, grouped by the periods of from (pf) and to (pt), and dimensions."""
    plan, d = rc.plan, rc.d
    level = plan.level(stock.level)
    dataset = stock.dataset
    active = rc.catalog.datasets[dataset].model.active
    assert active is not None
    folded = _folded(rc, stock)
    where_filter, shared = shared_filter([*stock.filters, *(f for scan in folded for f in scan.filters)])
    query_where = rc.where(dataset)
    tr = rc.row(dataset)
    start_col = col(active.from_, dataset)
    end_col = col(active.to, dataset) if active.to else None
    # a row whose span ends where it starts, or before, is never active
    ever_active = sql.or_(exp.Is(this=end_col.copy(), expression=exp.null()),
                          d.time_gt(end_col.copy(), start_col.copy())) if end_col is not None else None
    # with flows beside it, never-active rows are read (a flow counts them) but changes no stock
    stock_only = ever_active if folded else None

    flow_measures = [m for scan in folded for m in scan.measures]
    used = [m.arg for m in (*stock.measures, *flow_measures)] + [m.condition for m in (*stock.measures, *flow_measures)]
    used += rc.dims(dataset, level.dims) + [query_where, where_filter]
    base, joins = rc.from_(dataset, used)
    columns = [alias(rc.period_of(dataset, active.from_), "pf")]
    group = [rc.period_of(dataset, active.from_)]
    if end_col is not None:
        columns.append(alias(rc.period_of(dataset, active.to), "pt"))
        group.append(rc.period_of(dataset, active.to))
    for name, node in zip(level.dims, rc.dims(dataset, level.dims)):
        expr = tr(node)
        columns.append(alias(expr, f"d_{name}"))
        group.append(expr.copy())

    def condition(node, extra: exp.Expression | None) -> exp.Expression | None:
        own = tr(node) if node is not None else None
        return sql.and_(own, extra.copy() if extra is not None else None)

    for m in stock.measures:
        arg = tr(m.arg) if m.arg is not None else None
        columns.append(alias(d.aggregate(m.func, arg, condition(without_filter(m.condition, shared), stock_only)),
                             m.name))
    # the rows of the stock (some filter of its KPIs, ever active): they give the dimension values
    rows = rows_column(stock)
    if rows not in {m.name for m in stock.measures}:
        stock_filter, _ = shared_filter(stock.filters)
        counted = condition(without_filter(stock_filter, shared) if stock_filter is not None else None, stock_only)
        columns.append(alias(d.aggregate("count", None, counted), rows))
    for m in flow_measures:
        arg = tr(m.arg) if m.arg is not None else None
        columns.append(alias(d.aggregate(m.func, arg, condition(without_filter(m.condition, shared), None)), m.name))
    for scan in folded:
        needed, seen = seen_rows(scan)
        if needed:
            seen = without_filter(seen, shared) if seen is not None else None
            columns.append(alias(d.aggregate("count", None, condition(seen, None)), f"{scan.cte}_seen"))

    reads = [sql.and_(not_null(start_col.copy()), *_before_end(rc, dataset, active.from_),
                      ever_active.copy() if ever_active is not None and not folded else None)]
    for scan in folded:
        reads.append(sql.and_(*rc.time_range(dataset, scan.time, scan.lower, scan.unbounded)))
    conds = [sql.or_(*reads) if len(reads) > 1 else reads[0]]
    conds += [tr(c) for c in (query_where, where_filter) if c is not None]
    return [(f"{stock.cte}g", sql.select(columns, base, joins=joins, where=sql.and_(*conds), group_by=group))]


def rows_column(stock: StockScan) -> str:
    """The column of the stock's read counting its rows (a count(*) of the stock itself when it has one)."""
    stock_filter, _ = shared_filter(stock.filters)
    for m in stock.measures:
        if m.func == "count" and m.arg is None and m.condition == stock_filter:
            return m.name
    return f"{stock.cte}_n"


def _before_end(rc: RenderContext, dataset: str, column: str) -> list[exp.Expression]:
    """Rows that start after the last period change no reported stock."""
    hi = rc.plan.bounds.hi
    after = P.start_date_or_none(hi + 1, rc.plan.grain, rc.plan.calendar) if hi is not None else None
    if after is None:
        return []
    return [exp.LT(this=col(column, dataset), expression=rc.before_day(dataset, column, after, upper=True))]


def seen_rows(scan: FlowScan):
    """(a count of the rows that give a flow scan's dimension values is needed, the filter of those rows).

    When some of its rows are read only for total(), the others give the dimension values.
    """
    seen_filter, _ = shared_filter(scan.dims_filters)
    where_filter, _ = shared_filter(scan.filters)
    return scan.level == "d" and bool(scan.dims_filters) and seen_filter != where_filter, seen_filter


def render_stock(rc: RenderContext, stock: StockScan) -> list[tuple[str, exp.Expression]]:
    """kpi_k*e: +changes in pf, -changes in pt; kpi_k*: summed per period."""
    plan, d = rc.plan, rc.d
    level = plan.level(stock.level)
    active = rc.catalog.datasets[stock.dataset].model.active
    assert active is not None
    read = f"{stock.cte}g"
    clamp, hi = plan.bounds.clamp, plan.bounds.hi
    dim_cols = [col(f"d_{dim}") for dim in level.dims]
    branches = []
    for side, sign in (("pf", 1), ("pt", -1)):
        if side == "pt" and not active.to:
            continue
        p: exp.Expression = col(side)
        if clamp is not None:
            p = d.at_least(p, clamp)
        changes = [alias(col(m.name) if sign > 0 else exp.Neg(this=col(m.name)), m.name) for m in stock.measures]
        conds = [not_null(col(side))]
        if hi is not None:
            conds.append(exp.LTE(this=col(side), expression=lit(hi)))  # changes after the last period do not matter
        branches.append(sql.select([alias(p, "p"), *[c.copy() for c in dim_cols], *changes], table_ref(read),
                                   where=sql.and_(*conds)))
    events = branches[0]
    if len(branches) == 2:
        events = exp.Union(this=branches[0], expression=branches[1], distinct=False)
    events_name = f"{stock.cte}e"
    sums = [alias(exp.Sum(this=col(m.name)), m.name) for m in stock.measures]
    ctes = [(events_name, events),
            (stock.cte, sql.select([col("p"), *dim_cols, *sums], table_ref(events_name),
                                   group_by=[col("p"), *[c.copy() for c in dim_cols]]))]
    rc.raw.append((stock.cte, "p", clamp is None))
    source = Source(stock.cte, [(m.name, True) for m in stock.measures], True, unbounded=clamp is None)
    if level.dims:
        # the dimension values of rows in some stock of the reported periods: active just before an
        # instant from the first period's start to the end of the last (from < t <= to)
        conds = [exp.GT(this=col(rows_column(stock)), expression=lit(0)),
                 exp.LTE(this=col("pf"), expression=rc.bound("hi"))]
        if active.to:
            conds.append(sql.or_(exp.Is(this=col("pt"), expression=exp.null()),
                                 exp.GTE(this=col("pt"), expression=rc.bound("lo"))))
        source.combos = sql.select([c.copy() for c in dim_cols], table_ref(read), joins=rc.bounds_join(),
                                   where=sql.and_(*conds), distinct=True)
    rc.add_source(stock.level, source)
    return ctes
