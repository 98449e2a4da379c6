"""Range aggregates (kpi_r*): aggregates that do not combine across periods (count_distinct, median,
percentile under a window; min, max, distinct counts of a stock), each spine period joined to the
rows it reads; and a rank-based continuous percentile for engines without one."""

from __future__ import annotations

from decimal import Decimal

from sqlglot import exp

from .. import sql
from ..conditions import and_nodes
from ..plan import ZERO_WHEN_EMPTY, RangeAggregate
from ..sql import alias, col, is_null, lit, not_null, table_ref
from .context import RenderContext, Source

__all__ = ["render_range", "render_range_rows"]


def render_range_rows(rc: RenderContext, item: RangeAggregate) -> list[tuple[str, exp.Expression]]:
    """The rows a range aggregate reads, with their periods (before the spine: they bound it)."""
    plan, d = rc.plan, rc.d
    atom, cte = item.atom, item.cte
    dataset = atom.dataset
    level = plan.level(item.level)
    entry = rc.catalog.datasets[dataset]
    query_where = rc.where(dataset)
    condition = and_nodes(atom.condition, atom.kpi_filter)
    dims = rc.dims(dataset, level.dims)
    base, joins = rc.from_(dataset, [atom.arg, condition, *dims, query_where])
    active = entry.model.active
    tr = rc.row(dataset)
    columns: list[exp.Expression] = []
    conds: list[exp.Expression] = []
    if atom.at is not None:
        assert active is not None
        for column, prefix in ((active.from_, "f"), (active.to, "t")):
            if column is not None:
                columns.append(alias(rc.period_of(dataset, column), f"{prefix}a"))
        conds.append(not_null(col(active.from_, dataset)))
        if active.to:  # a row whose span ends where it starts, or before, is never active
            conds.append(sql.or_(is_null(col(active.to, dataset)),
                                 d.time_gt(col(active.to, dataset), col(active.from_, dataset))))
    else:
        time = atom.time or entry.model.time
        time_col = col(time, dataset) if time is not None else None  # none: grain all reads every row
        # grain all: one period, index 0 (as the spine's)
        columns.append(alias(lit(0) if plan.all else rc.period_of(dataset, time), "q"))
        unbounded = atom.window is not None and atom.window.kind == "cumulative"
        if time_col is not None:
            conds += rc.time_range(dataset, time, item.lower, unbounded)
    columns += [alias(tr(node), f"d_{name}") for name, node in zip(level.dims, dims)]
    value = tr(atom.arg)
    if atom.func in ("median", "percentile"):
        value = d.double(value)  # interpolated as doubles on every engine
    columns.append(alias(value, "x"))
    # the inner where and null values exclude a row from the value, not from the rows read
    counted = sql.and_(tr(atom.condition) if atom.condition is not None else None, not_null(tr(atom.arg)))
    columns.append(alias(exp.Case(ifs=[exp.If(this=counted, true=lit(1))], default=lit(0)), "c"))
    conds += [tr(c) for c in (atom.kpi_filter, query_where) if c is not None]
    rows = f"{cte}w"
    if atom.at is None:
        rc.raw.append((rows, "q", atom.window is not None and atom.window.kind == "cumulative"))
    else:
        rc.raw.append((rows, "fa", True))
        if active.to:
            rc.raw.append((rows, "ta", True))
    return [(rows, sql.select(columns, base, joins=joins, where=sql.and_(*conds)))]


def render_range(rc: RenderContext, item: RangeAggregate) -> list[tuple[str, exp.Expression]]:
    """Each spine period joined to the rows it reads, aggregated."""
    plan, d = rc.plan, rc.d
    atom, cte = item.atom, item.cte
    level = plan.level(item.level)
    active = rc.catalog.datasets[atom.dataset].model.active
    func = "percentile" if atom.func == "median" else atom.func
    fraction = Decimal("0.5") if atom.func == "median" else atom.fraction
    rows = f"{cte}w"
    per = col("p", "kpi_periods")

    def r(name: str) -> exp.Column:
        return col(name, rows)

    if atom.at is not None:
        # active just before the instant that opens period `instant`: from < t <= to, in periods
        instant = per if atom.at == "start" else sql.binary(exp.Add, per, lit(1))
        match = [exp.LT(this=r("fa"), expression=instant)]
        if active.to:
            match.append(sql.or_(is_null(r("ta")), exp.GTE(this=r("ta"), expression=instant.copy())))
    else:
        window = atom.window
        match = [exp.LTE(this=r("q"), expression=per)]
        if window is None:
            match = [exp.EQ(this=r("q"), expression=per)]
        elif window.kind == "rolling":
            match.append(exp.GTE(this=r("q"), expression=sql.binary(exp.Sub, per.copy(), lit(window.periods - 1))))
        elif window.kind == "to_date":
            match.append(exp.EQ(this=rc.group_key(r("q"), window.grain), expression=rc.group_key(per.copy(), window.grain)))
    keys = [per.copy(), *[r(f"d_{dim}") for dim in level.dims]]
    names = ["p", *[f"d_{dim}" for dim in level.dims]]
    counted = exp.EQ(this=r("c"), expression=lit(1))
    value = f"{cte}_value"
    ctes: list[tuple[str, exp.Expression]] = []
    if func == "percentile" and not d.native_percentile:
        pairs = f"{cte}x"
        match.append(counted)
        ctes.append((pairs, sql.select([alias(k, n) for k, n in zip(keys, names)] + [alias(r("x"), "x")],
                                       table_ref("kpi_periods"),
                                       joins=[sql.join(table_ref(rows), sql.and_(*match), kind="INNER")])))
        ctes += _rank_percentile(rc, cte, pairs, names, fraction, value)
    else:
        periods_join = sql.join(table_ref(rows), sql.and_(*match), kind="INNER")
        agg = d.aggregate(func, r("x"), counted, fraction)
        ctes.append((cte, sql.select([alias(k, n) for k, n in zip(keys, names)] + [alias(agg, value)],
                                     table_ref("kpi_periods"), joins=[periods_join],
                                     group_by=[k.copy() for k in keys])))
    source = Source(cte, [(value, func in ZERO_WHEN_EMPTY)], False)
    if level.dims:
        if atom.at is None:
            seen = exp.Between(this=r("q"), low=rc.bound("lo"), high=rc.bound("hi"))
        else:  # active just before some instant from the first period's start to the last one's end
            seen = exp.LTE(this=r("fa"), expression=rc.bound("hi"))
            if active.to:
                seen = sql.and_(seen, sql.or_(is_null(r("ta")), exp.GTE(this=r("ta"), expression=rc.bound("lo"))))
        source.combos = sql.select([r(f"d_{dim}") for dim in level.dims], table_ref(rows),
                                   joins=rc.bounds_join(), where=seen, distinct=True)
    rc.add_source(item.level, source)
    return ctes


def _rank_percentile(rc: RenderContext, cte: str, rows: str, keys: list[str], fraction: Decimal,
                     value: str) -> list[tuple[str, exp.Expression]]:
    """A continuous percentile from row ranks, for engines without an aggregate for it."""
    partition = [col(k) for k in keys]
    ranked = f"{cte}n"
    rank = exp.Window(this=exp.RowNumber(), partition_by=[c.copy() for c in partition] or None,
                      order=exp.Order(expressions=[exp.Ordered(this=col("x"), nulls_first=False)]), over="OVER")
    count = exp.Window(this=exp.Count(this=exp.Star()), partition_by=[c.copy() for c in partition] or None,
                       over="OVER")
    position = sql.binary(exp.Mul, sql.binary(exp.Sub, count, lit(1)), lit(fraction))  # 0-based, fractional
    whole = rc.d.integer(col("h"))

    def value_at(offset: int) -> exp.Expression:
        rank_wanted = sql.binary(exp.Add, whole.copy(), lit(offset))
        return exp.Max(this=exp.Case(ifs=[exp.If(this=exp.EQ(this=col("rn"), expression=rank_wanted),
                                                 true=col("x"))]))

    lower, upper = value_at(1), value_at(2)
    fraction_part = exp.Max(this=sql.binary(exp.Sub, col("h"), whole.copy()))
    spread = sql.binary(exp.Sub, exp.Coalesce(this=upper, expressions=[lower.copy()]), lower.copy())
    interpolated = sql.binary(exp.Add, lower, sql.binary(exp.Mul, fraction_part, spread))
    return [(ranked, sql.select([*partition, col("x"), alias(rank, "rn"), alias(position, "h")], table_ref(rows))),
            (cte, sql.select([col(k) for k in keys] + [alias(interpolated, value)], table_ref(ranked),
                             group_by=[col(k) for k in keys]))]
