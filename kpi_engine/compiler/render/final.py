"""The final SELECT (period date, dimensions, each KPI's arithmetic, reported periods only,
ordered), what its columns are, and each KPI's value over no rows."""

from __future__ import annotations

from sqlglot import exp

from ...formulas.binder import Atom
from .. import periods as P
from .. import sql
from ..booleans import boolean_kind, combine
from ..plan import ZERO_WHEN_EMPTY, Plan
from ..sql import alias, col, lit, table_ref
from ..translate import Translator
from .context import RenderContext
from .values import value_expression

__all__ = ["boolean_columns", "empty_values", "render_final"]


def render_final(rc: RenderContext) -> exp.Select:
    plan = rc.plan
    d_level = plan.level("d")
    x = d_level.out

    def xcol(name: str) -> exp.Expression:
        return rc.v_column(d_level, name) if d_level.inline else col(name, x)

    def atom_value(atom: Atom) -> exp.Expression:
        level = plan.level("t" if atom.total else "d")
        column = level.column_of(atom)
        if level.inline:
            return value_expression(rc, level, level.value(column))
        return col(column, level.out)

    tr = Translator(rc.d, rc.catalog.functions, atom=atom_value, period_days=lambda: period_days(rc, xcol("p")))
    columns: list[exp.Expression] = []
    if not plan.all:
        columns.append(alias(rc.d.period_date(xcol("p"), plan.grain, plan.calendar), "period"))
    columns += [alias(xcol(f"d_{d}"), d) for d in plan.query.by]
    columns += [alias(tr(tree), name) for name, tree in plan.metrics]
    joins = rc.bounds_join()
    if any(level.key == "t" for level in plan.levels):
        t = plan.level("t").out
        joins.append(sql.join(table_ref(t), exp.EQ(this=col("p", t), expression=xcol("p")), kind="LEFT"))
    where = None
    bounds = plan.bounds
    if not (bounds.literal and bounds.spine_lower == bounds.lo):
        # the spine reaches outside lo..hi
        where = exp.Between(this=xcol("p"), low=rc.bound("lo"), high=rc.bound("hi"))
    order = [exp.Ordered(this=xcol("p"), nulls_first=False)]
    order += [exp.Ordered(this=xcol(f"d_{d}"), nulls_first=False) for d in plan.query.by]
    merged = rc.merged.get("d")
    if merged is None:
        return sql.select(columns, table_ref(x), joins=joins, where=where, order_by=order)
    from_key = "from_" if "from_" in exp.Select.arg_types else "from"
    values = merged[0]
    return sql.select(columns, values.args[from_key].this, joins=[*(values.args.get("joins") or []), *joins],
                      where=where, order_by=order)


def period_days(rc: RenderContext, p: exp.Expression) -> exp.Expression:
    """The number of days in period ``p``; at grain all, from the first to the last day reported."""
    plan, d = rc.plan, rc.d
    grain, calendar = plan.grain, plan.calendar
    if grain in ("day", "week"):
        return lit(1 if grain == "day" else 7)
    if not plan.all:
        after = sql.binary(exp.Add, p.copy(), lit(1))
        return sql.binary(exp.Sub, d.day_number(d.period_date(after, grain, calendar)),
                          d.day_number(d.period_date(p.copy(), grain, calendar)))
    q = plan.query
    if q.start is not None and q.end is not None:
        return lit((q.end - q.start).days + 1)
    # a bound from the data: the first or last local day with rows in the datasets read
    first: exp.Expression = lit(P.index_of(q.start, "day")) if q.start else exp.Min(this=col("first_day"))
    last: exp.Expression = lit(P.index_of(q.end, "day")) if q.end else exp.Max(this=col("last_day"))
    days = sql.binary(exp.Add, sql.binary(exp.Sub, last, first), lit(1))
    return exp.Subquery(this=sql.select([days], sql.subquery(_extents(rc), "kpi_days")))


def _extents(rc: RenderContext) -> exp.Expression:
    """The first and last local day number with rows, per dataset and time column the query reads."""
    parts = []
    for dataset, time in dict.fromkeys((a.dataset, a.time or rc.catalog.datasets[a.dataset].model.time)
                                       for a in rc.plan.atoms):
        if time is None:
            continue
        query_where = rc.where(dataset)
        base, joins = rc.from_(dataset, [query_where])
        day = rc.d.day_number(rc.time_of(dataset, time))
        conds = rc.time_range(dataset, time, None, False)
        if query_where is not None:
            conds.append(rc.row(dataset)(query_where))
        parts.append(sql.select([alias(exp.Min(this=day), "first_day"), alias(exp.Max(this=day.copy()), "last_day")],
                                base, joins=joins, where=sql.and_(*conds)))
    if not parts:
        return sql.select([alias(exp.null(), "first_day"), alias(exp.null(), "last_day")])
    union = parts[0]
    for part in parts[1:]:
        union = exp.Union(this=union, expression=part, distinct=False)
    return union


def boolean_columns(rc: RenderContext) -> tuple:
    """The result columns that hold booleans (``booleans``), for engines that return them as 0/1."""
    plan = rc.plan
    binder, catalog = rc.compile.binder, rc.catalog
    kinds = [(d, combine(boolean_kind(binder.dimension(ds, d), ds, catalog) for ds in plan.datasets))
             for d in plan.query.by]
    kinds += [(name, boolean_kind(tree, None, catalog)) for name, tree in plan.metrics]
    return tuple((name, kind) for name, kind in kinds if kind is not False)


def empty_values(rc: RenderContext, plan: Plan) -> exp.Select:
    """SELECT of each KPI over no rows (0 for counts and sums, null otherwise), for merging sources."""

    def empty(atom: Atom) -> exp.Expression:
        return lit(0) if atom.func in ZERO_WHEN_EMPTY else exp.null()

    tr = Translator(rc.d, rc.catalog.functions, atom=empty)
    return sql.select([alias(tr(tree), name) for name, tree in plan.metrics])


