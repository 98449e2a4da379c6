"""The value layers over the spine (V: joined sources, W: windows, X: previous()) and the final SELECT."""

from __future__ import annotations


from sqlglot import exp

from ..formulas import syntax as f
from ..formulas.binder import Atom
from . import sql
from .plan import (
    Level,
)
from .sql import alias, col, lit, table_ref
from .translate import Translator

__all__ = ["ValueLayers"]


class ValueLayers:
    """Writes kpi_v*, kpi_w*, kpi_x* and the final SELECT. A mixin of the query build (``build._Build``)."""

    def _emit_values(self, level: Level) -> None:
        v, dims = level.v, level.dims
        columns: list[exp.Expression] = [col("p", "kpi_periods")]
        joins: list[exp.Join] = []
        if dims:
            joins.append(sql.join(table_ref("kpi_combos"), None, kind="CROSS"))
            columns += [col(f"d_{d}", "kpi_combos") for d in dims]
        for source in level.sources:
            on = [exp.EQ(this=col("p", source.cte), expression=col("p", "kpi_periods"))]
            on += [sql.null_safe_eq(col(f"d_{d}", source.cte), col(f"d_{d}", "kpi_combos")) for d in dims]
            joins.append(sql.join(table_ref(source.cte), sql.and_(*on), kind="LEFT"))
            for name, zero in source.columns:
                value = col(name, source.cte)
                columns.append(alias(exp.Coalesce(this=value, expressions=[lit(0)]) if zero else value, name))
        self.cte(v, sql.select(columns, table_ref("kpi_periods"), joins=joins))
        if level.inline:
            return  # the final SELECT reads the values directly
        keys = [col("p", v), *[col(f"d_{d}", v) for d in dims]]
        w = f"kpi_w{level.key}"
        self.cte(w, sql.select(keys + [alias(e, name) for name, e in level.window_exprs], table_ref(v)))
        if not level.shifts:
            return
        lags = []
        for out, of, n in level.shifts:
            lag = exp.Window(this=exp.Lag(this=col(of, w), offset=lit(n)),
                             partition_by=[col(f"d_{d}", w) for d in dims] or None,
                             order=self._by_period(w), over="OVER")
            lags.append(alias(lag, out))
        keep = [col(name, w) for name, _ in level.window_exprs]
        self.cte(f"kpi_x{level.key}", sql.select([col("p", w), *[col(f"d_{d}", w) for d in dims], *keep, *lags],
                                                 table_ref(w)))

    def _final(self, metrics: dict[str, f.Node], levels: dict[str, Level]) -> exp.Select:
        x = levels["d"].out

        def atom_value(atom: Atom) -> exp.Expression:
            level = levels["t" if atom.total else "d"]
            if level.inline:
                return dict(level.window_exprs)[level.values[atom]].copy()
            return col(level.values[atom], level.out)

        tr = Translator(self.d, self.catalog.functions, atom=atom_value)
        columns: list[exp.Expression] = []
        if not self.all:
            columns.append(alias(self.d.period_date(col("p", x), self.grain), "period"))
        columns += [alias(col(f"d_{d}", x), d) for d in self.q.by]
        columns += [alias(tr(tree), name) for name, tree in metrics.items()]
        joins = self.bounds_join()
        if "t" in levels:
            t = levels["t"].out
            joins.append(sql.join(table_ref(t), exp.EQ(this=col("p", t), expression=col("p", x)), kind="LEFT"))
        where = None
        if not (self.literal_bounds and self.spine_lower == self.lo_lit):
            # the spine reaches outside lo..hi
            where = exp.Between(this=col("p", x), low=self.bound("lo"), high=self.bound("hi"))
        order = [exp.Ordered(this=col("p", x), nulls_first=False)]
        order += [exp.Ordered(this=col(f"d_{d}", x), nulls_first=False) for d in self.q.by]
        return sql.select(columns, table_ref(x), joins=joins, where=where, order_by=order)
