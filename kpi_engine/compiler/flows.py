"""Flow aggregates: one scan per dataset and time column, every KPI's aggregates as FILTER columns.

Totals of combinable aggregates roll the dimensions scan up, so shares read a dataset once."""

from __future__ import annotations

from decimal import Decimal

from sqlglot import exp

from ..formulas.binder import Atom
from . import sql
from .plan import (
    COMBINABLE,
    OVER_PERIODS,
    ZERO_WHEN_EMPTY,
    Level,
    Measure,
    Scan,
    Source,
    and_nodes,
    without_filter,
)
from .sql import alias, col, lit, table_ref

__all__ = ["FlowScans"]


class FlowScans:
    """Plans and writes the flow scans (kpi_s*). A mixin of the query build (``build._Build``)."""

    def _scan_key(self, atom: Atom, level: Level) -> tuple:
        time = atom.time or self.catalog.datasets[atom.dataset].model.time
        # totals of combinable aggregates are rolled up from the dimensions scan: one pass
        scan_level = "d" if (level.key == "t" and atom.func in COMBINABLE) else level.key
        return (atom.dataset, time, scan_level)

    def _flow_value(self, atom: Atom, level: Level) -> exp.Expression:
        key = self._scan_key(atom, level)
        if key not in self.scans:
            self.scans[key] = Scan(self.name("s"), key[0], key[1], key[2])
        scan = self.scans[key]
        scan.filters.append(atom.kpi_filter)
        if level.key == "d":
            scan.dims_filters.append(atom.kpi_filter)
        if atom.window is not None and atom.window.kind == "cumulative":
            scan.unbounded = True
        func = "percentile" if atom.func == "median" else atom.func
        fraction = Decimal("0.5") if atom.func == "median" else atom.fraction
        condition = and_nodes(atom.condition, atom.kpi_filter)

        def measure(name: str) -> str:
            mkey = (name, atom.arg, condition, fraction)
            if mkey not in scan.measures:
                scan.measures[mkey] = Measure(f"m{scan.cte[5:]}_{len(scan.measures) + 1}", name, atom.arg,
                                               condition, fraction)
            return scan.measures[mkey].name

        if func == "avg" and (atom.window is not None or scan.level != level.key):
            parts = [measure("sum"), measure("count")]  # windows and roll-ups combine sums and counts
        else:
            parts = [measure(func)]
        if scan.level != level.key:
            scan.rollup.extend(p for p in parts if p not in scan.rollup)
        agg = OVER_PERIODS.get(atom.func)
        if atom.window is None or agg is None:
            cols: list[exp.Expression] = [col(p, level.v) for p in parts]
        else:
            cols = [self._over(agg(this=col(p, level.v)), level, atom.window) for p in parts]
        return self.d.divide(cols[0], cols[1]) if len(cols) == 2 else cols[0]

    def _emit_scan(self, scan: Scan, levels: dict[str, Level]) -> None:
        level = levels[scan.level]
        where_filter, shared = self._shared_filter(scan.filters)
        query_where = self._where(scan.dataset)
        measures = list(scan.measures.values())
        used = [m.arg for m in measures] + [m.condition for m in measures] + self._dims(scan.dataset, level)
        base, joins = self._from(scan.dataset, [*used, query_where, where_filter])
        tr = self._row(scan.dataset)
        time_col = col(scan.time, scan.dataset) if scan.time else None
        p = self.d.period_index(time_col.copy(), self.grain) if time_col is not None and not self.all else None
        if p is not None and scan.unbounded and self.clamp is not None:
            p = self.d.at_least(p, self.clamp)
        columns, group = self._group_columns(scan.dataset, level, tr, p)
        for m in measures:
            condition = without_filter(m.condition, shared)
            columns.append(alias(self.d.aggregate(m.func, tr(m.arg) if m.arg is not None else None,
                                                  tr(condition) if condition is not None else None, m.fraction),
                                 m.name))
        seen_filter, _ = self._shared_filter(scan.dims_filters)
        seen = None
        if scan.level == "d" and level.dims and scan.dims_filters and seen_filter != where_filter:
            # some rows are read only for total(): count the others, which give the dimension values
            seen = f"{scan.cte}_seen"
            columns.append(alias(self.d.aggregate("count", None, tr(seen_filter) if seen_filter else None), seen))
        conds = self._time_range(time_col, scan.lower, scan.unbounded) if time_col is not None else []
        conds += [tr(c) for c in (query_where, where_filter) if c is not None]
        self.cte(scan.cte, sql.select(columns, base, joins=joins, where=sql.and_(*conds), group_by=group))
        clamped = scan.unbounded and self.clamp is not None
        self.raw.append((scan.cte, "p", scan.unbounded and not clamped))
        source = Source(scan.cte, [(m.name, m.func in ZERO_WHEN_EMPTY) for m in measures], True,
                         scan.unbounded and not clamped)
        if level.dims:
            in_range = exp.Between(this=col("p", scan.cte), low=self.bound("lo"), high=self.bound("hi"))
            if not scan.dims_filters:
                in_range = exp.false()  # only total() reads it
            elif seen is not None:
                in_range = sql.and_(in_range, exp.GT(this=col(seen, scan.cte), expression=lit(0)))
            source.combos = sql.select([col(f"d_{d}", scan.cte) for d in level.dims], table_ref(scan.cte),
                                       joins=self.bounds_join(),
                                       where=in_range)
        level.sources.append(source)
        if scan.rollup:
            by_name = {m.name: m for m in measures}
            columns = [col("p")] + [alias(OVER_PERIODS[by_name[n].func](this=col(n)), n) for n in scan.rollup]
            name = f"{scan.cte}t"
            self.cte(name, sql.select(columns, table_ref(scan.cte), group_by=[col("p")]))
            levels["t"].sources.append(Source(name, [(n, by_name[n].func in ZERO_WHEN_EMPTY) for n in scan.rollup],
                                               True, scan.unbounded))
