"""Flow scans (kpi_s*): one pass over a dataset, rows grouped by period and dimensions, every
aggregate of every KPI a FILTER column; totals of combinable aggregates rolled up from it."""

from __future__ import annotations

from sqlglot import exp

from .. import sql
from ..conditions import shared_filter, without_filter
from ..plan import OVER_PERIODS, ZERO_WHEN_EMPTY, FlowScan
from ..sql import alias, col, lit, table_ref
from .context import RenderContext, Source
from .stocks import seen_rows

__all__ = ["render_scan"]

_OVER = {"sum": exp.Sum, "min": exp.Min, "max": exp.Max}


def _regrouped(rc: RenderContext, scan: FlowScan, seen: str | None) -> exp.Expression:
    """A flow folded into a stock's read: its measures regrouped by its side's period (pf or pt)."""
    plan, d = rc.plan, rc.d
    level = plan.level(scan.level)
    side = col("pf" if scan.side == "from" else "pt")
    p: exp.Expression = side.copy()
    if scan.unbounded and plan.bounds.clamp is not None:
        p = d.at_least(p, plan.bounds.clamp)
    conds = [sql.not_null(side.copy())]
    if scan.lower is not None and not scan.unbounded:
        conds.append(exp.GTE(this=side.copy(), expression=lit(scan.lower)))
    if plan.bounds.hi is not None:
        conds.append(exp.LTE(this=side.copy(), expression=lit(plan.bounds.hi)))
    dims = [col(f"d_{dim}") for dim in level.dims]
    columns = [alias(p, "p"), *[c.copy() for c in dims]]
    columns += [alias(_OVER[OVER_PERIODS[m.func]](this=col(m.name)), m.name) for m in scan.measures]
    if seen is not None:
        columns.append(alias(exp.Sum(this=col(seen)), seen))
    return sql.select(columns, table_ref(f"{scan.folded_into}g"), where=sql.and_(*conds),
                      group_by=[p.copy(), *[c.copy() for c in dims]])


def render_scan(rc: RenderContext, scan: FlowScan) -> list[tuple[str, exp.Expression]]:
    plan, d = rc.plan, rc.d
    level = plan.level(scan.level)
    needed, seen_filter = seen_rows(scan)
    seen = f"{scan.cte}_seen" if needed and level.dims else None
    clamp = plan.bounds.clamp
    if scan.folded_into is not None:
        body = _regrouped(rc, scan, seen)
    else:
        where_filter, shared = shared_filter(scan.filters)
        query_where = rc.where(scan.dataset)
        measures = scan.measures
        used = [m.arg for m in measures] + [m.condition for m in measures] + rc.dims(scan.dataset, level.dims)
        base, joins = rc.from_(scan.dataset, [*used, query_where, where_filter])
        tr = rc.row(scan.dataset)
        time_col = col(scan.time, scan.dataset) if scan.time else None
        p = rc.period_of(scan.dataset, scan.time, scan.lower, scan.unbounded) \
            if time_col is not None and not plan.all else None
        if p is not None and scan.unbounded and clamp is not None:
            p = d.at_least(p, clamp)
        columns, group = rc.group_columns(scan.dataset, level.dims, tr, p)
        for m in measures:
            condition = without_filter(m.condition, shared)
            columns.append(alias(d.aggregate(m.func, tr(m.arg) if m.arg is not None else None,
                                             tr(condition) if condition is not None else None, m.fraction), m.name))
        if seen is not None:
            # some rows are read only for total(): count the others, which give the dimension values
            columns.append(alias(d.aggregate("count", None, tr(seen_filter) if seen_filter else None), seen))
        conds = rc.time_range(scan.dataset, scan.time, scan.lower, scan.unbounded) if time_col is not None else []
        conds += [tr(c) for c in (query_where, where_filter) if c is not None]
        body = sql.select(columns, base, joins=joins, where=sql.and_(*conds), group_by=group)
    ctes = [(scan.cte, body)]
    measures = scan.measures
    clamped = scan.unbounded and clamp is not None
    rc.raw.append((scan.cte, "p", scan.unbounded and not clamped))
    source = Source(scan.cte, [(m.name, m.func in ZERO_WHEN_EMPTY) for m in measures], True,
                    scan.unbounded and not clamped)
    if level.dims:
        in_range = exp.Between(this=col("p", scan.cte), low=rc.bound("lo"), high=rc.bound("hi"))
        if not scan.dims_filters:
            in_range = exp.false()  # only total() reads it
        elif seen is not None:
            in_range = sql.and_(in_range, exp.GT(this=col(seen, scan.cte), expression=lit(0)))
        source.combos = sql.select([col(f"d_{dim}", scan.cte) for dim in level.dims], table_ref(scan.cte),
                                   joins=rc.bounds_join(), where=in_range)
    rc.add_source(scan.level, source)
    if scan.rollup:
        by_name = {m.name: m for m in measures}
        columns = [col("p")] + [alias(_OVER[OVER_PERIODS[by_name[n].func]](this=col(n)), n) for n in scan.rollup]
        name = f"{scan.cte}t"
        ctes.append((name, sql.select(columns, table_ref(scan.cte), group_by=[col("p")])))
        rc.add_source("t", Source(name, [(n, by_name[n].func in ZERO_WHEN_EMPTY) for n in scan.rollup],
                                  True, scan.unbounded))
    return ctes
