"""The time spine: kpi_bounds (the reported periods, and the periods windows read), kpi_periods
(every period index between), and kpi_combos (the dimension values seen in the reported periods)."""

from __future__ import annotations

from sqlglot import exp

from .. import sql
from ..plan import LevelPlan
from ..sql import alias, col, lit, table_ref, wrap
from .context import RenderContext

__all__ = ["render_bounds", "render_combos", "render_periods"]


def render_bounds(rc: RenderContext) -> list[tuple[str, exp.Expression]]:
    """lo..hi: the reported periods; spine_lo..spine_hi: every period a window or previous() reads."""
    bounds = rc.plan.bounds
    if bounds.literal:
        return []  # every bound is a literal, written where it is used

    def union(items: list[tuple[str, str, bool]]) -> exp.Expression:
        parts = [sql.select([alias(col(column), "p")], table_ref(cte)) for cte, column, _ in items]
        out: exp.Expression = parts[0]
        for part in parts[1:]:
            out = exp.Union(this=out, expression=part, distinct=False)
        return out

    needs_data = bounds.lo is None or bounds.hi is None
    lo = lit(bounds.lo) if bounds.lo is not None else exp.Min(this=col("p"))
    hi = lit(bounds.hi) if bounds.hi is not None else exp.Max(this=col("p"))
    if bounds.lo is None:
        # nothing is earlier than the earliest data, but previous() reads the (empty) periods before it
        spine_lo: exp.Expression = exp.Min(this=col("p"))
        if bounds.max_shift:
            spine_lo = sql.binary(exp.Sub, spine_lo, lit(bounds.max_shift))
    else:
        spine_lo = lit(bounds.spine_lower if bounds.spine_lower is not None else bounds.lo)
        unbounded = [item for item in rc.raw if item[2]]
        if unbounded:  # cumulative() and stocks read from the first period of data on
            earliest = exp.Subquery(this=sql.select([exp.Min(this=col("p"))],
                                                    sql.subquery(union(unbounded), "kpi_early")))
            spine_lo = _smaller(earliest, spine_lo)
    from_ = sql.subquery(union(rc.raw), "kpi_all") if needs_data and rc.raw else None
    return [("kpi_bounds", sql.select([alias(lo, "lo"), alias(hi, "hi"), alias(spine_lo, "spine_lo"),
                                       alias(hi.copy(), "spine_hi")], from_))]


def _smaller(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """The smaller of two integers; ``b`` when ``a`` is null (no rows)."""
    a_is_smaller = exp.LT(this=wrap(a), expression=wrap(b))
    return exp.Case(ifs=[exp.If(this=a_is_smaller, true=a.copy())], default=b.copy())


def render_periods(rc: RenderContext) -> list[tuple[str, exp.Expression]]:
    d = rc.d
    bounds = None if rc.plan.bounds.literal else "kpi_bounds"
    low, high = rc.bound("spine_lo"), rc.bound("spine_hi")
    if rc.plan.all:
        body = sql.select([alias(lit(0), "p")])
    elif d.uses_recursive_series:
        rc.recursive = True
        body = d.recursive_series(low, high, bounds, "kpi_periods")
    else:
        body = d.series(low if bounds is None else col("spine_lo"), high if bounds is None else col("spine_hi"), bounds)
    return [("kpi_periods", body)]


def render_combos(rc: RenderContext, level: LevelPlan) -> list[tuple[str, exp.Expression]]:
    dim_cols = [col(f"d_{d}") for d in level.dims]
    parts: list[exp.Expression] = []
    for source in rc.sources.get(level.key, []):
        if source.combos is not None:
            parts.append(source.combos)
        elif source.raw:
            in_range = exp.Between(this=col("p", source.cte), low=rc.bound("lo"), high=rc.bound("hi"))
            parts.append(sql.select([c.copy() for c in dim_cols], table_ref(source.cte),
                                    joins=rc.bounds_join(), where=in_range))
    if parts:
        union = parts[0]
        for part in parts[1:]:
            union = exp.Union(this=union, expression=part, distinct=False)
        combos = sql.select([c.copy() for c in dim_cols], sql.subquery(union, "kpi_seen"), distinct=True)
    else:
        combos = sql.select([alias(exp.null(), f"d_{d}") for d in level.dims], where=exp.false())
    return [("kpi_combos", combos)]
