"""The value layers over the spine: kpi_v* (the spine joined to every source of a level, 0 for
empty counts and sums), kpi_w* (each aggregate's value: windows over the dense spine, stock
levels) and kpi_x* (previous(): LAG over the spine)."""

from __future__ import annotations

from sqlglot import exp

from .. import sql
from ..plan import OVER_PERIODS, LevelPlan, Value
from ..sql import alias, col, lit, table_ref
from .context import RenderContext

__all__ = ["render_values", "value_expression"]

_AGGREGATES = {"sum": exp.Sum, "min": exp.Min, "max": exp.Max}


def value_expression(rc: RenderContext, level: LevelPlan, value: Value) -> exp.Expression:
    """An aggregate's value from the level's V layer (window functions over the spine where needed)."""
    v = level.v
    if value.kind == "range":
        return rc.v_column(level, value.parts[0])
    if value.kind == "stock":
        parts = []
        for delta in value.parts:
            through = rc.over(exp.Sum(this=col(delta, v)), level, None)
            # at=end: the changes up to p; at=start: those before p
            parts.append(through if value.at == "end" else sql.binary(exp.Sub, through, col(delta, v)))
    elif value.window is None:
        parts = [rc.v_column(level, p) for p in value.parts]
    else:
        combine = _AGGREGATES[OVER_PERIODS[value.func]]
        parts = [rc.over(combine(this=col(p, v)), level, value.window) for p in value.parts]
    return rc.d.divide(parts[0], parts[1]) if len(parts) == 2 else parts[0]


def render_values(rc: RenderContext, level: LevelPlan) -> list[tuple[str, exp.Expression]]:
    v, dims = level.v, level.dims
    columns: list[exp.Expression] = [col("p", "kpi_periods")]
    joins: list[exp.Join] = []
    if dims:
        joins.append(sql.join(table_ref("kpi_combos"), None, kind="CROSS"))
        columns += [col(f"d_{d}", "kpi_combos") for d in dims]
    for source in rc.sources.get(level.key, []):
        on = [exp.EQ(this=col("p", source.cte), expression=col("p", "kpi_periods"))]
        on += [sql.null_safe_eq(col(f"d_{d}", source.cte), col(f"d_{d}", "kpi_combos")) for d in dims]
        joins.append(sql.join(table_ref(source.cte), sql.and_(*on), kind="LEFT"))
        for name, zero in source.columns:
            value = col(name, source.cte)
            columns.append(alias(exp.Coalesce(this=value, expressions=[lit(0)]) if zero else value, name))
    values = sql.select(columns, table_ref("kpi_periods"), joins=joins)
    if level.inline and level.key == "d":
        # no window and no shift: the final SELECT reads the spine and the sources itself (one CTE less
        # is a third of a millisecond less planning, most of a small query)
        rc.merged[level.key] = (values, {c.alias_or_name: c.unalias() for c in values.expressions})
        return []
    ctes = [(v, values)]
    if level.inline:
        return ctes  # the final SELECT reads the values directly
    keys = [col("p", v), *[col(f"d_{d}", v) for d in dims]]
    w = f"kpi_w{level.key}"
    ctes.append((w, sql.select(keys + [alias(value_expression(rc, level, value), value.column)
                                       for value in level.values], table_ref(v))))
    if not level.shifts:
        return ctes
    lags, joins = [], []
    for number, shift in enumerate(level.shifts, 1):
        if shift.periods:
            lag = exp.Window(this=exp.Lag(this=col(shift.of, w), offset=lit(shift.periods)),
                             partition_by=[col(f"d_{d}", w) for d in dims] or None,
                             order=rc.by_period(w), over="OVER")
            lags.append(alias(lag, shift.column))
            continue
        # a period that is not a fixed number back (a month back from a day): the same spine, joined
        earlier = f"kpi_y{number}{level.key}"
        on = [exp.EQ(this=col("p", earlier), expression=rc.shifted(col("p", w), shift.moves))]
        on += [sql.null_safe_eq(col(f"d_{d}", earlier), col(f"d_{d}", w)) for d in dims]
        joins.append(sql.join(exp.alias_(table_ref(w), earlier, table=True), sql.and_(*on), kind="LEFT"))
        lags.append(alias(col(shift.of, earlier), shift.column))
    keep = [col(value.column, w) for value in level.values]
    ctes.append((f"kpi_x{level.key}", sql.select([col("p", w), *[col(f"d_{d}", w) for d in dims], *keep, *lags],
                                                 table_ref(w), joins=joins)))
    return ctes
