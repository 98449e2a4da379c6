"""The final SELECT (period date, dimensions, each KPI's arithmetic, reported periods only,
ordered), what its columns are, and each KPI's value over no rows."""

from __future__ import annotations

from sqlglot import exp

from ...formulas.binder import Atom
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

    tr = Translator(rc.d, rc.catalog.functions, atom=atom_value)
    columns: list[exp.Expression] = []
    if not plan.all:
        columns.append(alias(rc.d.period_date(xcol("p"), plan.grain), "period"))
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


