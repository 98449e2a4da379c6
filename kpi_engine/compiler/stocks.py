"""Stock aggregates (at=start, at=end): +value in the period a row's active span starts, -value in the
period it ends.

A stock is taken just before an instant t (t = a period's first instant, or the first instant after it):
the rows with ``from < t`` and (``to`` null or ``to >= t``). Since t is a period boundary, ``from < t``
holds exactly when from's period comes before t's, so the stock at the start of period p is the running
sum of the changes of the periods before p, and at its end the running sum through p: a row that starts
exactly at t is new in t's period, one that ends exactly at t still counts in the stock that opens it.
"""

from __future__ import annotations


from sqlglot import exp

from ..formulas.binder import Atom
from . import periods as P
from . import sql
from .plan import (
    Level,
    Source,
    Stock,
    and_nodes,
    not_null,
    without_filter,
)
from .sql import alias, col, lit, table_ref, wrap

__all__ = ["StockScans"]


class StockScans:
    """Plans and writes the stock scans (kpi_k*). A mixin of the query build (``build._Build``)."""

    @staticmethod
    def _change(func: str, arg: exp.Expression | None, sign: int) -> exp.Expression:
        """What one row adds to (or, where its span ends, removes from) count, count(x) or sum(x)."""
        if func == "sum":
            assert arg is not None
            return wrap(arg) if sign > 0 else exp.Neg(this=wrap(arg))
        one = lit(sign)
        if func == "count" and arg is not None:  # count(x): rows where x is not null
            return _when(not_null(arg), one)
        return one

    def _stock_value(self, atom: Atom, level: Level) -> exp.Expression:
        key = (atom.dataset, level.key)
        if key not in self.stocks:
            self.stocks[key] = Stock(self.name("k"), atom.dataset, level.key)
        stock = self.stocks[key]
        stock.filters.append(atom.kpi_filter)
        condition = and_nodes(atom.condition, atom.kpi_filter)

        def measure(func: str) -> str:
            mkey = (func, atom.arg, condition)
            if mkey not in stock.measures:
                stock.measures[mkey] = (f"kd{stock.cte[5:]}_{len(stock.measures) + 1}", func, atom.arg, condition)
            return stock.measures[mkey][0]

        values = []
        for delta in ([measure("sum"), measure("count")] if atom.func == "avg" else [measure(atom.func)]):
            through = self._over(exp.Sum(this=col(delta, level.v)), level, None)
            # at=end: the changes up to p; at=start: those before p
            values.append(through if atom.at == "end" else sql.binary(exp.Sub, through, col(delta, level.v)))
        return self.d.divide(values[0], values[1]) if atom.func == "avg" else values[0]

    # -- range atoms ------------------------------------------------------------

    def _emit_stock(self, stock: Stock, level: Level) -> None:
        dataset = stock.dataset
        active = self.catalog.datasets[dataset].model.active
        assert active is not None
        where_filter, shared = self._shared_filter(stock.filters)
        query_where = self._where(dataset)
        measures = list(stock.measures.values())
        used = [m[2] for m in measures] + [m[3] for m in measures] + self._dims(dataset, level)
        used += [query_where, where_filter]
        tr = self._row(dataset)
        start_col = col(active.from_, dataset)
        end_col = col(active.to, dataset) if active.to else None
        never_active = None
        if end_col is not None:
            # a row whose span ends where it starts, or before, is never active
            never_active = sql.or_(exp.Is(this=end_col.copy(), expression=exp.null()),
                                   self.d.time_gt(end_col.copy(), start_col.copy()))
        branches = []
        for edge, sign in ((start_col, 1), (end_col, -1)):
            if edge is None:
                continue
            base, joins = self._from(dataset, used)
            p = self.d.period_index(edge.copy(), self.grain)
            if self.clamp is not None:
                p = self.d.at_least(p, self.clamp)
            columns, _ = self._group_columns(dataset, level, tr, p)
            for delta, func, arg, condition in measures:
                stripped = without_filter(condition, shared)
                condition_sql = tr(stripped) if stripped is not None else None
                change = self._change(func, tr(arg) if arg is not None else None, sign)
                columns.append(alias(_when(condition_sql, change), delta))
            conds = [not_null(edge.copy())]
            after = P.start_date_or_none(self.hi_lit + 1, self.grain) if self.hi_lit is not None else None
            if after is not None:
                # changes after the last period do not matter (at=end reads those up to its end)
                conds.append(exp.LT(this=edge.copy(), expression=self.d.time_literal(after)))
            conds += [c.copy() for c in (never_active,) if c is not None]
            conds += [tr(c) for c in (query_where, where_filter) if c is not None]
            # one row per change; a single GROUP BY below sums them (faster than grouping each side)
            branches.append(sql.select(columns, base, joins=joins, where=sql.and_(*conds)))
        events = branches[0]
        if len(branches) == 2:
            events = exp.Union(this=branches[0], expression=branches[1], distinct=False)
        events_name = f"{stock.cte}e"
        self.cte(events_name, events)
        dim_cols = [col(f"d_{d}") for d in level.dims]
        sums = [alias(exp.Sum(this=col(m[0])), m[0]) for m in measures]
        self.cte(stock.cte, sql.select([col("p"), *dim_cols, *sums], table_ref(events_name),
                                       group_by=[col("p"), *[c.copy() for c in dim_cols]]))
        self.raw.append((stock.cte, "p", self.clamp is None))
        source = Source(stock.cte, [(m[0], True) for m in measures], True, unbounded=self.clamp is None)
        if level.dims:
            # the dimension values of rows in some stock of the reported periods: active just before an
            # instant from the first period's start to the end of the last (from < t <= to)
            base, joins = self._from(dataset, used)
            joins.extend(self.bounds_join())
            from_p = self.d.period_index(start_col.copy(), self.grain)
            conds = [not_null(start_col.copy()), exp.LTE(this=from_p, expression=self.bound("hi"))]
            if end_col is not None:
                to_p = self.d.period_index(end_col.copy(), self.grain)
                conds += [never_active.copy(), sql.or_(exp.Is(this=end_col.copy(), expression=exp.null()),
                                                        exp.GTE(this=to_p, expression=self.bound("lo")))]
            conds += [tr(c) for c in (query_where, where_filter) if c is not None]
            columns = [alias(tr(node), f"d_{name}") for name, node in zip(level.dims, self._dims(dataset, level))]
            source.combos = sql.select(columns, base, joins=joins, where=sql.and_(*conds), distinct=True)
        level.sources.append(source)


def _when(condition: exp.Expression | None, value: exp.Expression) -> exp.Expression:
    """``value`` for the rows meeting ``condition``, else 0 (nothing changes)."""
    if condition is None:
        return value
    return exp.Case(ifs=[exp.If(this=condition, true=value)], default=lit(0))
