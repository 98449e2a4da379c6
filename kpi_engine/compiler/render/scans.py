"""Flow scans (kpi_s*): one pass over a dataset, rows grouped by period and dimensions, every
aggregate of every KPI a FILTER column; totals of combinable aggregates rolled up from it."""

from __future__ import annotations

from sqlglot import exp

from .. import sql
from ..conditions import shared_filter, without_filter
from ..plan import OVER_PERIODS, ZERO_WHEN_EMPTY, FlowScan
from ..sql import alias, col, lit, table_ref
from .context import RenderContext, Source

__all__ = ["render_scan"]

_OVER = {"sum": exp.Sum, "min": exp.Min, "max": exp.Max}


def render_scan(rc: RenderContext, scan: FlowScan) -> list[tuple[str, exp.Expression]]:
    plan, d = rc.plan, rc.d
    level = plan.level(scan.level)
    where_filter, shared = shared_filter(scan.filters)
    query_where = rc.where(scan.dataset)
    measures = scan.measures
    used = [m.arg for m in measures] + [m.condition for m in measures] + rc.dims(scan.dataset, level.dims)
    base, joins = rc.from_(scan.dataset, [*used, query_where, where_filter])
    tr = rc.row(scan.dataset)
    time_col = col(scan.time, scan.dataset) if scan.time else None
    clamp = plan.bounds.clamp
    p = d.period_index(time_col.copy(), plan.grain) if time_col is not None and not plan.all else None
    if p is not None and scan.unbounded and clamp is not None:
        p = d.at_least(p, clamp)
    columns, group = rc.group_columns(scan.dataset, level.dims, tr, p)
    for m in measures:
        condition = without_filter(m.condition, shared)
        columns.append(alias(d.aggregate(m.func, tr(m.arg) if m.arg is not None else None,
                                         tr(condition) if condition is not None else None, m.fraction), m.name))
    seen_filter, _ = shared_filter(scan.dims_filters)
    seen = None
    if scan.level == "d" and level.dims and scan.dims_filters and seen_filter != where_filter:
        # some rows are read only for total(): count the others, which give the dimension values
        seen = f"{scan.cte}_seen"
        columns.append(alias(d.aggregate("count", None, tr(seen_filter) if seen_filter else None), seen))
    conds = rc.time_range(time_col, scan.lower, scan.unbounded) if time_col is not None else []
    conds += [tr(c) for c in (query_where, where_filter) if c is not None]
    ctes = [(scan.cte, sql.select(columns, base, joins=joins, where=sql.and_(*conds), group_by=group))]
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
