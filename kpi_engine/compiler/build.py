"""Plan a query and write its SQL.

The shape of every compiled query (CTE names in brackets)::

    [kpi_s*]       flow scans: one pass per dataset and time column, rows → (period index p,
                   dimensions, measures); every KPI's aggregates are FILTER (WHERE ...) columns
                   of the same GROUP BY, so a batch of KPIs reads each dataset once
    [kpi_k*]       stock scans: +value where a row's active span starts, -value where it ends
    [kpi_bounds]   reported periods lo..hi and the spine's extent
    [kpi_periods]  every period index of the spine (read-before periods included)
    [kpi_r*]       the rare aggregates that do not combine across periods (count_distinct,
                   median, percentile under a window; min/max/... of a stock): periods × rows
    [kpi_combos]   the dimension values seen in the reported periods
    [kpi_v*]       spine LEFT JOIN sources: 0 for empty counts and sums, null otherwise
    [kpi_w*]       each aggregate's value; windows over the dense spine (rolling, to_date,
                   cumulative, stock levels)
    [kpi_x*]       previous(): LAG over the dense spine
    final          period date, dimensions, each KPI's arithmetic; lo..hi only; ordered

Periods are integer indexes (``periods``), so shifting and windowing is integer
arithmetic on a spine with one row per period and dimension values: rolling,
cumulative and stock KPIs are window functions over pre-aggregated rows, never a
calendar joined to every row. ``*d`` CTEs carry the query's dimensions, ``*t``
ones (for ``total()``) none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence

from sqlglot import exp

from ..formulas import syntax as f
from ..formulas.binder import Atom, Binder, Window, atoms_of, rebuild
from ..definitions.catalog import Catalog, DatasetEntry
from ..errors import QueryError
from . import periods as P
from . import sql
from .booleans import boolean_kind, combine
from .checks import QueryChecks
from .dialects import SqlDialect
from .flows import FlowScans
from .layers import ValueLayers
from .plan import COMBINABLE, ZERO_WHEN_EMPTY, CompiledQuery, Level, Range, Scan, Stock, not_null
from .query import Query
from .ranges import RangeAggregates
from .sql import alias, col, lit, table_ref
from .spine import Spine
from .stocks import StockScans
from .translate import Translator

__all__ = ["CompiledQuery", "QueryCompiler"]

Relation = Callable[[DatasetEntry, SqlDialect], exp.Expression]


class QueryCompiler:
    """Compiles queries over one catalog for one dialect.

    ``relation`` gives the FROM expression of a dataset (a table, a parsed
    ``sql:``, a file reader), which depends on its connector.
    """

    def __init__(
        self,
        catalog: Catalog,
        binder: Binder,
        dialect: SqlDialect,
        relation: Relation,
        source_name: Callable[[str], str] | None = None,
    ) -> None:
        self.catalog = catalog
        self.binder = binder
        self.dialect = dialect
        self.relation = relation
        self.source_name = source_name or (lambda ds: catalog.datasets[ds].model.source)

    def compile(self, query: Query) -> CompiledQuery:
        return _Build(self, query).run()


class _Build(QueryChecks, FlowScans, StockScans, RangeAggregates, Spine, ValueLayers):
    """The planning state of one query; each pass is a mixin in its own module."""

    def __init__(self, owner: QueryCompiler, query: Query) -> None:
        self.owner = owner
        self.catalog = owner.catalog
        self.binder = owner.binder
        self.d = owner.dialect
        self.q = query
        self.grain = query.grain
        self.all = query.grain == "all"
        self.ctes: list[tuple[str, exp.Expression]] = []
        self.counter = 0
        self.recursive = False
        self.where_node: f.Node | None = None
        self.lo_lit: int | None = None
        self.hi_lit: int | None = None
        self.spine_lower: int | None = None
        self.scans: dict[tuple, Scan] = {}
        self.stocks: dict[tuple, Stock] = {}
        self.ranges: dict[tuple[Atom, str], Range] = {}
        self.literal_bounds = False
        self.clamp: int | None = None  # the period earlier rows of running sums are summed into
        self.max_shift = 0  # the furthest previous() reaches back
        #: (CTE, column) pairs whose values are periods that hold data; they decide a missing --from/--to
        self.raw: list[tuple[str, str, bool]] = []  # (cte, column, reads every earlier row)

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"kpi_{prefix}{self.counter}"

    def bound(self, name: str) -> exp.Expression:
        """lo, hi, spine_lo or spine_hi: a literal when both dates are given and no history is read."""
        if self.literal_bounds:
            value = {"lo": self.lo_lit, "hi": self.hi_lit, "spine_lo": self.spine_lower, "spine_hi": self.hi_lit}[name]
            return lit(value)
        return col(name, "kpi_bounds")

    def bounds_join(self) -> list[exp.Join]:
        return [] if self.literal_bounds else [sql.join(table_ref("kpi_bounds"), None, kind="CROSS")]

    def cte(self, name: str, body: exp.Expression) -> None:
        self.ctes.append((name, body))

    # ================================================================= run
    def run(self) -> CompiledQuery:
        q = self.q
        metrics = self._metrics()
        atoms = [a for m in metrics.values() for a in atoms_of(m)]
        datasets = sorted({a.dataset for a in atoms})
        if not atoms and not self.all and (q.start is None or q.end is None):
            raise QueryError("these KPIs read no dataset, so no period has rows: give --from and --to",
                             code="no-periods")
        self._check_names()
        self._check_sources(datasets)
        self._check_dimensions(datasets)
        self._bind_where(datasets)
        self._check_atoms(atoms)
        if self.all:
            self.lo_lit = self.hi_lit = 0
        else:
            self.lo_lit = P.index_of(q.start, self.grain) if q.start else None
            self.hi_lit = P.index_of(q.end, self.grain) if q.end else None
        self.spine_lower = self.lo_lit

        levels = {"d": Level("d", q.by)}
        if any(a.total for a in atoms):
            levels["t"] = Level("t", ())
        for atom in dict.fromkeys(atoms):
            self._plan_atom(atom, levels)
        if self.lo_lit is not None and not self.all and (self.stocks or any(s.unbounded for s in self.scans.values())):
            # Running sums (stocks, cumulative()) need every earlier row, but not in separate periods:
            # rows before the spine are summed into one period just before it.
            self.clamp = (self.spine_lower if self.spine_lower is not None else self.lo_lit) - 1
            self.spine_lower = self.clamp
        reads_history = any(r.atom.at or (r.atom.window and r.atom.window.kind == "cumulative")
                            for r in self.ranges.values()) or (self.lo_lit is None and self.stocks)
        self.literal_bounds = self.lo_lit is not None and self.hi_lit is not None and not reads_history

        for scan in self.scans.values():
            self._emit_scan(scan, levels)
        for stock in self.stocks.values():
            self._emit_stock(stock, levels[stock.level])
        for item in self.ranges.values():
            self._emit_range_rows(item, levels[item.level])
        self._emit_bounds()
        self._emit_periods()
        for item in self.ranges.values():
            self._emit_range(item, levels[item.level])
        if q.by:
            self._emit_combos(levels["d"])
        for level in levels.values():
            self._emit_values(level)
        final = self._final(metrics, levels)
        with_ = exp.With(
            expressions=[exp.CTE(this=body, alias=exp.TableAlias(this=sql.ident(name))) for name, body in self.ctes],
            recursive=self.recursive or None,
        )
        final.set("with_" if "with_" in exp.Select.arg_types else "with", with_)
        columns = (() if self.all else ("period",)) + q.by + tuple(metrics)
        source = self.owner.source_name(datasets[0]) if datasets else None
        kinds = [(d, combine(boolean_kind(self.binder.dimension(ds, d), ds, self.catalog) for ds in datasets))
                 for d in q.by]
        kinds += [(name, boolean_kind(tree, None, self.catalog)) for name, tree in metrics.items()]
        booleans = tuple((name, kind) for name, kind in kinds if kind is not False)
        return CompiledQuery(final, self.d.generate(final), columns, tuple(metrics), q.by, self.grain, source,
                             booleans, self._empty_values(metrics))

    def _empty_values(self, metrics: dict[str, f.Node]) -> str:
        """SELECT of each KPI over no rows (0 for counts and sums, null otherwise), for merging sources."""

        def empty(atom: Atom) -> exp.Expression:
            return lit(0) if atom.func in ZERO_WHEN_EMPTY else exp.null()

        tr = Translator(self.d, self.catalog.functions, atom=empty)
        return self.d.generate(sql.select([alias(tr(tree), name) for name, tree in metrics.items()]), pretty=False)

    # ============================================================== checks





    def _plan_atom(self, atom: Atom, levels: dict[str, Level]) -> None:
        level = levels["t" if atom.total else "d"]
        base = dataclasses.replace(atom, shift=0)
        if base not in level.values:
            level.values[base] = self._plan_value(base, level)
        self._widen(base, atom.shift, level)
        self.max_shift = max(self.max_shift, atom.shift)
        if atom.shift:
            out = f"x{len(level.shifts) + 1}_{level.key}"
            level.shifts.append((out, level.values[base], atom.shift))
            level.values[atom] = out

    def _plan_value(self, atom: Atom, level: Level) -> str:
        """Plan how an unshifted atom is computed; return its column in the W layer."""
        func = atom.func
        if atom.at is not None:
            expr = self._stock_value(atom, level) if func in ("count", "sum", "avg") else self._range_value(atom, level)
        elif func in COMBINABLE:
            expr = self._flow_value(atom, level)
        elif atom.window is None and (func == "count_distinct" or self.d.native_percentile):
            expr = self._flow_value(atom, level)
        else:
            expr = self._range_value(atom, level)
        out = f"w{len(level.window_exprs) + 1}_{level.key}"
        level.window_exprs.append((out, expr))
        return out

    def _widen(self, atom: Atom, shift: int, level: Level) -> None:
        """Make the spine and the rows read reach back as far as the atom needs."""
        if self.lo_lit is None or self.all:
            return
        first = self.lo_lit - shift
        self.spine_lower = min(self.spine_lower, first) if self.spine_lower is not None else first
        window = atom.window
        needed = first
        if window is not None and window.kind == "rolling":
            needed = first - (window.periods - 1)
        elif window is not None and window.kind == "to_date":
            needed = P.group_start(first, self.grain, window.grain)
        ranged = self.ranges.get((atom, level.key))
        if ranged is not None:
            ranged.lower = needed if ranged.lower is None else min(ranged.lower, needed)
            return
        if atom.at is not None:
            return
        scan = self.scans.get(self._scan_key(atom, level))
        if scan is not None:
            scan.lower = needed if scan.lower is None else min(scan.lower, needed)
            # windows run over spine rows, so the spine reaches back as far as the rows
            self.spine_lower = min(self.spine_lower, needed)

    # -- flow atoms -------------------------------------------------------------


    def _over(self, agg: exp.Expression, level: Level, window: Window | None, *,
              following: int = 0) -> exp.Expression:
        """``agg OVER (PARTITION BY dims ORDER BY p ROWS ...)`` on the dense spine."""
        partition = [col(f"d_{d}", level.v) for d in level.dims]
        start: exp.Expression | str = "UNBOUNDED"
        if window is not None and window.kind == "rolling":
            start = lit(window.periods - 1)
        if window is not None and window.kind == "to_date":
            partition.append(self._group_key(col("p", level.v), window.grain))
        spec = exp.WindowSpec(kind="ROWS", start=start, start_side="PRECEDING",
                              end=lit(following) if following else "CURRENT ROW",
                              end_side="FOLLOWING" if following else None)
        return exp.Window(this=agg, partition_by=partition or None, order=self._by_period(level.v),
                          spec=spec, over="OVER")

    def _by_period(self, table: str) -> exp.Order:
        """ORDER BY p in a window; p is never null, so the dialect's own null ordering is used."""
        return exp.Order(expressions=[exp.Ordered(this=col("p", table), nulls_first=self.d.nulls_first_by_default)])

    def _group_key(self, p: exp.Expression, group: str) -> exp.Expression:
        """The index of the to_date() group (week, month, quarter, year) holding period p."""
        grain, d = self.grain, self.d
        if grain == group:
            return p
        if grain == "day" and group == "week":
            return d.int_div(p, 7)
        if grain == "month":
            return d.int_div(p, 3 if group == "quarter" else 12)
        if grain == "quarter":
            return d.int_div(p, 4)
        # day → month, quarter or year: through the calendar date of the day
        return d.period_index(d.period_date(p, "day"), group)

    # -- stock atoms ------------------------------------------------------------
    def _from(self, dataset: str, used: Sequence[f.Node | None]) -> tuple[exp.Expression, list[exp.Join]]:
        """The dataset aliased by its name, LEFT JOIN every join the expressions read."""
        entry = self.catalog.datasets[dataset]
        base = self._relation(entry, dataset)
        aliases = sorted({n.qualifier for node in used if node is not None for n in f.walk(node)
                          if isinstance(n, f.Ref) and n.qualifier is not None})
        joins = []
        for name in aliases:
            join = entry.model.joins[name]
            local, remote = join.columns
            right = self._relation(self.catalog.datasets[join.dataset], name)
            joins.append(sql.join(right, exp.EQ(this=col(local, dataset), expression=col(remote, name)), kind="LEFT"))
        return base, joins

    def _relation(self, entry: DatasetEntry, name: str) -> exp.Expression:
        relation = self.owner.relation(entry, self.d)
        if not isinstance(relation, (exp.Table, exp.Query)):
            relation = exp.Table(this=relation)  # a table function (a plugin's file reader) is a relation
        if isinstance(relation, exp.Table):
            relation = relation.copy()
            relation.set("alias", exp.TableAlias(this=sql.ident(name)))
            return relation
        return sql.subquery(relation, name)

    def _row(self, dataset: str) -> Translator:
        return Translator(self.d, self.catalog.functions, column=lambda ref: col(ref.name, ref.qualifier or dataset))

    def _dims(self, dataset: str, level: Level) -> list[f.Node]:
        return [self.binder.dimension(dataset, d) for d in level.dims]

    def _where(self, dataset: str) -> f.Node | None:
        """--where with each dimension replaced by its expression on this dataset."""
        if self.where_node is None:
            return None

        def substitute(node: f.Node) -> f.Node:
            if isinstance(node, f.Ref):
                return self.binder.dimension(dataset, node.name)
            return rebuild(node, substitute)

        return substitute(self.where_node)

    def _time_range(self, time_col: exp.Expression, lower: int | None, unbounded: bool) -> list[exp.Expression]:
        """Rows with a time, inside the periods a scan must read (a range excludes nulls by itself)."""
        q, d = self.q, self.d
        conds: list[exp.Expression] = []
        first: dt.date | None = None
        after: dt.date | None = None  # the first day after the rows read
        if self.all:
            first = q.start
            after = P.day_after(q.end) if q.end else None
        else:
            if lower is not None and not unbounded:
                first = P.start_date_or_none(lower, self.grain)  # None: before 0001-01-01, nothing is earlier
            if self.hi_lit is not None:
                after = P.start_date_or_none(self.hi_lit + 1, self.grain)  # None: after 9999-12-31
        if first is not None:
            conds.append(exp.GTE(this=time_col.copy(), expression=d.time_literal(first)))
        if after is not None:
            conds.append(exp.LT(this=time_col.copy(), expression=d.time_literal(after)))
        return conds or [not_null(time_col)]

    @staticmethod
    def _shared_filter(filters: list[f.Node | None]) -> tuple[f.Node | None, f.Node | None]:
        """From the KPI filters of a scan's aggregates: (WHERE condition, filter already in every measure).

        The rows a query reads are those passing some KPI filter; when every
        aggregate has the same filter it moves from each FILTER clause to WHERE.
        """
        distinct = list(dict.fromkeys(filters))
        if not distinct or any(x is None for x in distinct):
            return None, None
        if len(distinct) == 1:
            return distinct[0], distinct[0]
        where = distinct[0]
        for other in distinct[1:]:
            where = f.Binary(0, 0, op="or", left=where, right=other)
        return where, None

    def _group_columns(self, dataset: str, level: Level, tr: Translator,
                       p: exp.Expression | None) -> tuple[list[exp.Expression], list[exp.Expression]]:
        columns = [alias(p if p is not None else lit(0), "p")]
        group = [p.copy()] if p is not None else []
        for name, node in zip(level.dims, self._dims(dataset, level)):
            expr = tr(node)
            columns.append(alias(expr, f"d_{name}"))
            group.append(expr.copy())
        return columns, group











