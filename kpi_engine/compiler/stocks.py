"""Stock aggregates (at=start, at=end): +value where a row's active span starts, -value where it ends.

A running sum of those changes over the dense spine is the number of rows (or their sum) active at each
period boundary; changes exactly at a period's first instant are kept apart, since a row is active at t
when from <= t < to."""

from __future__ import annotations


from sqlglot import exp

from ..binder import Atom
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

        def measure(func: str) -> tuple[str, str]:
            mkey = (func, atom.arg, condition)
            if mkey not in stock.measures:
                n = f"{stock.cte[5:]}_{len(stock.measures) + 1}"
                stock.measures[mkey] = (f"kd{n}", f"ke{n}", func, atom.arg, condition)
            return stock.measures[mkey][0], stock.measures[mkey][1]

        if atom.at == "end":
            self.stock_end = True
        values = []
        for delta, exact in ([measure("sum"), measure("count")] if atom.func == "avg" else [measure(atom.func)]):
            through = self._over(exp.Sum(this=col(delta, level.v)), level, None)
            if atom.at == "start":
                # active at p's first instant: changes before p, and those exactly at its start
                value = sql.binary(exp.Add, sql.binary(exp.Sub, through, col(delta, level.v)), col(exact, level.v))
            else:
                # active at the first instant after p: changes up to p, and those exactly at p+1's start
                lead = exp.Window(this=exp.Lead(this=col(exact, level.v), offset=lit(1), default=lit(0)),
                                  partition_by=[col(f"d_{d}", level.v) for d in level.dims] or None,
                                  order=self._by_period(level.v), over="OVER")
                value = sql.binary(exp.Add, through, lead)
            values.append(value)
        return self.d.divide(values[0], values[1]) if atom.func == "avg" else values[0]

    # -- range atoms ------------------------------------------------------------

    def _emit_stock(self, stock: Stock, level: Level) -> None:
        dataset = stock.dataset
        active = self.catalog.datasets[dataset].model.active
        assert active is not None
        where_filter, shared = self._shared_filter(stock.filters)
        query_where = self._where(dataset)
        measures = list(stock.measures.values())
        used = [m[3] for m in measures] + [m[4] for m in measures] + self._dims(dataset, level)
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
            exact = self.d.is_period_start(edge.copy(), p.copy(), self.grain)
            if self.clamp is not None:
                p = self.d.at_least(p, self.clamp)
            columns, _ = self._group_columns(dataset, level, tr, p)
            for delta, at_edge, func, arg, condition in measures:
                stripped = without_filter(condition, shared)
                condition_sql = tr(stripped) if stripped is not None else None
                change = self._change(func, tr(arg) if arg is not None else None, sign)
                columns += [alias(_when(condition_sql, change), delta),
                            alias(_when(sql.and_(condition_sql.copy() if condition_sql else None, exact.copy()),
                                        change.copy()), at_edge)]
            conds = [not_null(edge.copy())]
            if self.hi_lit is not None:
                # changes after the first instant after the last period do not matter; the bound is one
                # period later and strict, so that text timestamps (SQLite) compare right at midnight
                conds.append(exp.LT(this=edge.copy(),
                                    expression=self.d.time_literal(P.end_date(self.hi_lit + 1, self.grain))))
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
        sums = [alias(exp.Sum(this=col(n)), n) for m in measures for n in m[:2]]
        self.cte(stock.cte, sql.select([col("p"), *dim_cols, *sums], table_ref(events_name),
                                       group_by=[col("p"), *[c.copy() for c in dim_cols]]))
        self.raw.append((stock.cte, "p", self.clamp is None))
        source = Source(stock.cte, [(n, True) for m in measures for n in m[:2]], True, unbounded=self.clamp is None)
        if level.dims:
            # the dimension values of rows active at some instant of the reported periods
            base, joins = self._from(dataset, used)
            joins.extend(self.bounds_join())
            from_p = self.d.period_index(start_col.copy(), self.grain)
            started = sql.or_(  # by the first instant after the last period (at=end reads it), included
                exp.LTE(this=from_p, expression=self.bound("hi")),
                sql.and_(exp.EQ(this=from_p.copy(), expression=sql.binary(exp.Add, self.bound("hi"), lit(1))),
                         self.d.is_period_start(start_col.copy(), from_p.copy(), self.grain)))
            conds = [not_null(start_col.copy()), started]
            if end_col is not None:
                to_p = self.d.period_index(end_col.copy(), self.grain)
                ended_before = sql.or_(
                    exp.LT(this=to_p, expression=self.bound("lo")),
                    sql.and_(exp.EQ(this=to_p.copy(), expression=self.bound("lo")),
                             self.d.is_period_start(end_col.copy(), to_p.copy(), self.grain)))
                conds += [never_active.copy(), sql.or_(exp.Is(this=end_col.copy(), expression=exp.null()),
                                                        exp.Not(this=wrap(ended_before)))]
            conds += [tr(c) for c in (query_where, where_filter) if c is not None]
            columns = [alias(tr(node), f"d_{name}") for name, node in zip(level.dims, self._dims(dataset, level))]
            source.combos = sql.select(columns, base, joins=joins, where=sql.and_(*conds), distinct=True)
        level.sources.append(source)


def _when(condition: exp.Expression | None, value: exp.Expression) -> exp.Expression:
    """``value`` for the rows meeting ``condition``, else 0 (nothing changes)."""
    if condition is None:
        return value
    return exp.Case(ifs=[exp.If(this=condition, true=value)], default=lit(0))
