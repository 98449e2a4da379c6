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
from dataclasses import dataclass, field
from decimal import Decimal

from sqlglot import exp

from .. import formula as f
from ..binder import Atom, Binder, Window, atoms_of, map_atoms, rebuild
from ..catalog import Catalog, DatasetEntry
from ..errors import KpiError, QueryError, raise_all, unknown
from ..parser import parse_formula
from . import periods as P
from . import sql
from .dialects import SqlDialect
from .query import Query
from .sql import alias, col, lit, table_ref, wrap
from .translate import Translator

__all__ = ["CompiledQuery", "QueryCompiler"]

_ZERO_WHEN_EMPTY = frozenset({"count", "count_distinct", "sum"})
_COMBINABLE = frozenset({"count", "sum", "min", "max", "avg"})
_OVER_PERIODS = {"count": exp.Sum, "sum": exp.Sum, "avg": exp.Sum, "min": exp.Min, "max": exp.Max}

Relation = Callable[[DatasetEntry, SqlDialect], exp.Expression]


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """The SQL of a query and what its columns mean."""

    expression: exp.Expression
    sql: str
    columns: tuple[str, ...]
    kpis: tuple[str, ...]
    dimensions: tuple[str, ...]
    grain: str
    source: str | None


@dataclass(slots=True)
class _Measure:
    name: str
    func: str
    arg: f.Node | None
    condition: f.Node | None
    fraction: Decimal | None = None


@dataclass(slots=True)
class _Scan:
    """One pass over a dataset, grouped by period and dimensions."""

    cte: str
    dataset: str
    time: str | None
    level: str
    measures: dict[tuple, _Measure] = field(default_factory=dict)
    filters: list[f.Node | None] = field(default_factory=list)
    #: KPI filters of the aggregates that are not under total(): their rows give the dimension values
    dims_filters: list[f.Node | None] = field(default_factory=list)
    lower: int | None = None  # lowest period read, when --from is given
    unbounded: bool = False  # cumulative(): every earlier row
    rollup: list[str] = field(default_factory=list)  # measures also summed without dimensions


@dataclass(slots=True)
class _Stock:
    """Start and end events of the rows of a dataset with ``active``."""

    cte: str
    dataset: str
    level: str
    measures: dict[tuple, tuple[str, str, str, f.Node | None, f.Node | None]] = field(default_factory=dict)
    filters: list[f.Node | None] = field(default_factory=list)


@dataclass(slots=True)
class _Range:
    """An aggregate computed per spine period from the rows that period reads."""

    cte: str
    atom: Atom
    level: str
    lower: int | None = None


@dataclass(slots=True)
class _Source:
    """A CTE joined into a level's values table on (p, dims)."""

    cte: str
    columns: list[tuple[str, bool]]  # (name, 0 when the period has no rows)
    raw: bool  # its p are periods of data: they decide a missing --from/--to
    unbounded: bool = False  # reads rows before the spine would otherwise start
    combos: exp.Expression | None = None  # dimension values it reads in the reported periods


@dataclass(slots=True)
class _Level:
    key: str  # "d": the query's dimensions; "t": none, for total()
    dims: tuple[str, ...]
    sources: list[_Source] = field(default_factory=list)
    values: dict[Atom, str] = field(default_factory=dict)  # atom → its column in kpi_x<key>
    window_exprs: list[tuple[str, exp.Expression]] = field(default_factory=list)
    shifts: list[tuple[str, str, int]] = field(default_factory=list)  # (column, of column, periods)

    @property
    def v(self) -> str:
        return f"kpi_v{self.key}"

    @property
    def inline(self) -> bool:
        """No window and no previous(): the final SELECT computes the values from the V layer itself."""
        return not self.shifts and not any(e.find(exp.Window) for _, e in self.window_exprs)

    @property
    def out(self) -> str:
        """The CTE holding every atom value of this level."""
        if self.inline:
            return self.v
        return f"kpi_x{self.key}" if self.shifts else f"kpi_w{self.key}"


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


class _Build:
    """The planning state of one query."""

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
        self.scans: dict[tuple, _Scan] = {}
        self.stocks: dict[tuple, _Stock] = {}
        self.ranges: dict[tuple[Atom, str], _Range] = {}
        self.stock_end = False
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
            # at=end reads the changes at the first instant after the last period: one period more
            spine_hi = self.hi_lit + 1 if self.stock_end else self.hi_lit
            value = {"lo": self.lo_lit, "hi": self.hi_lit, "spine_lo": self.spine_lower, "spine_hi": spine_hi}[name]
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

        levels = {"d": _Level("d", q.by)}
        if any(a.total for a in atoms):
            levels["t"] = _Level("t", ())
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
        return CompiledQuery(final, self.d.generate(final), columns, tuple(metrics), q.by, self.grain, source)

    # ============================================================== checks
    def _metrics(self) -> dict[str, f.Node]:
        metrics: dict[str, f.Node] = {}
        errors: list[KpiError] = []
        for name in self.q.kpis:
            if name not in self.catalog.kpis:
                errors.append(QueryError(unknown("KPI", name, self.catalog.kpis), code="unknown-kpi"))
                continue
            try:
                tree = self.binder.metric(name)
            except KpiError as exc:
                errors.append(exc)
                continue
            if not self.q.by:  # without dimensions, total(x) is x
                tree = map_atoms(tree, lambda a: dataclasses.replace(a, total=False))
            metrics[name] = tree
        raise_all(errors)
        return metrics

    def _check_names(self) -> None:
        for name in self.q.by:
            if name == "period":
                raise QueryError("'period' cannot be a --by dimension: it is the period column", code="bad-by")
            if name in self.q.kpis:
                raise QueryError(f"'{name}' is both a KPI and a --by dimension of this query", code="bad-by")

    def _check_sources(self, datasets: Sequence[str]) -> None:
        sources = {self.owner.source_name(ds) for ds in datasets}
        for ds in datasets:
            for join in self.catalog.datasets[ds].model.joins.values():
                sources.add(self.owner.source_name(join.dataset))
        if len(sources) > 1:
            raise QueryError(
                "this query reads datasets of several sources (" + ", ".join(sorted(sources))
                + "); one query runs on one source: query their KPIs separately",
                code="several-sources",
            )

    def _check_dimensions(self, datasets: Sequence[str]) -> None:
        errors: list[KpiError] = []
        for ds in datasets:
            entry = self.catalog.datasets[ds]
            for dim in self.q.by:
                if dim not in entry.model.dimensions:
                    errors.append(QueryError(
                        unknown("dimension", dim, entry.model.dimensions, where=f" on dataset '{ds}'")
                        + " (a --by dimension must be defined on every dataset the query reads)",
                        span=entry.name_span, code="unknown-dimension"))
                    continue
                try:
                    self.binder.dimension(ds, dim)
                except KpiError as exc:
                    errors.append(exc)
        raise_all(errors)

    def _bind_where(self, datasets: Sequence[str]) -> None:
        """Check --where: dimension names and row functions only."""
        if self.q.where is None:
            return
        text = f.FormulaText.standalone(self.q.where, "--where", label="--where condition", error_type=QueryError)
        node = parse_formula(text)
        known = sorted({d for ds in datasets for d in self.catalog.datasets[ds].model.dimensions})
        for item in f.walk(node):
            if isinstance(item, f.Ref):
                if item.qualifier is not None:
                    raise text.error(item, f"--where reads dimensions only, not '{item.dotted}'",
                                     hint="define it as a dimension of the dataset", code="bad-where")
                for ds in datasets:
                    if item.name not in self.catalog.datasets[ds].model.dimensions:
                        raise text.error(item, unknown("dimension", item.name, known, where=f" on dataset '{ds}'"),
                                         code="unknown-dimension")
            elif isinstance(item, f.Star):
                raise text.error(item, "'*' has no place in --where", code="bad-where")
            elif isinstance(item, f.Call):
                spec = self.catalog.functions.get(item.name)
                if spec is None:
                    raise text.error(item.name_span, unknown("function", item.name, self.catalog.functions),
                                     code="unknown-function")
                if spec.kind != "row":
                    raise text.error(item.name_span, f"{item.name}() is not allowed in --where: it filters "
                                     "rows by dimension values", code="bad-where")
                n = len(item.args)
                if n < spec.min_args or (spec.max_args is not None and n > spec.max_args) or item.named:
                    raise text.error(item, spec.arity_message(), code="arity")
                if item.where is not None:
                    raise text.error(item.where, "'where' only goes inside an aggregate", code="bad-where")
        self.where_node = node

    def _check_atoms(self, atoms: Sequence[Atom]) -> None:
        errors: list[KpiError] = []
        for atom in dict.fromkeys(atoms):
            entry = self.catalog.datasets[atom.dataset]
            if self.all and (atom.shift or atom.window):
                what = "previous()" if atom.shift else atom.window.describe()
                errors.append(QueryError(f"{what} compares periods; it needs a grain other than 'all'",
                                         code="bad-grain"))
            elif self.all and atom.at:
                errors.append(QueryError(f"at={atom.at} reads the rows active at the start or end of each "
                                         "period; it needs a grain other than 'all'", code="bad-grain"))
            elif atom.window and atom.window.kind == "to_date" and atom.window.grain not in P.CONTAINS[self.grain]:
                errors.append(QueryError(f"to_date(..., {atom.window.grain}) needs periods that fit in a "
                                         f"{atom.window.grain}; --grain {self.grain} periods do not",
                                         code="bad-grain"))
            elif not self.all and atom.at is None and (atom.time or entry.model.time) is None:
                errors.append(QueryError(
                    f"dataset '{atom.dataset}' has no time column, so its rows fall in no period",
                    span=entry.name_span, hint="add 'time: <column>' to the dataset, or query with --grain all",
                    code="no-time"))
        raise_all(list(dict.fromkeys(errors)))

    # ============================================================ planning
    def _plan_atom(self, atom: Atom, levels: dict[str, _Level]) -> None:
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

    def _plan_value(self, atom: Atom, level: _Level) -> str:
        """Plan how an unshifted atom is computed; return its column in the W layer."""
        func = atom.func
        if atom.at is not None:
            expr = self._stock_value(atom, level) if func in ("count", "sum", "avg") else self._range_value(atom, level)
        elif func in _COMBINABLE:
            expr = self._flow_value(atom, level)
        elif atom.window is None and (func == "count_distinct" or self.d.native_percentile):
            expr = self._flow_value(atom, level)
        else:
            expr = self._range_value(atom, level)
        out = f"w{len(level.window_exprs) + 1}_{level.key}"
        level.window_exprs.append((out, expr))
        return out

    def _widen(self, atom: Atom, shift: int, level: _Level) -> None:
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
    def _scan_key(self, atom: Atom, level: _Level) -> tuple:
        time = atom.time or self.catalog.datasets[atom.dataset].model.time
        # totals of combinable aggregates are rolled up from the dimensions scan: one pass
        scan_level = "d" if (level.key == "t" and atom.func in _COMBINABLE) else level.key
        return (atom.dataset, time, scan_level)

    def _flow_value(self, atom: Atom, level: _Level) -> exp.Expression:
        key = self._scan_key(atom, level)
        if key not in self.scans:
            self.scans[key] = _Scan(self.name("s"), key[0], key[1], key[2])
        scan = self.scans[key]
        scan.filters.append(atom.kpi_filter)
        if level.key == "d":
            scan.dims_filters.append(atom.kpi_filter)
        if atom.window is not None and atom.window.kind == "cumulative":
            scan.unbounded = True
        func = "percentile" if atom.func == "median" else atom.func
        fraction = Decimal("0.5") if atom.func == "median" else atom.fraction
        condition = _and(atom.condition, atom.kpi_filter)

        def measure(name: str) -> str:
            mkey = (name, atom.arg, condition, fraction)
            if mkey not in scan.measures:
                scan.measures[mkey] = _Measure(f"m{scan.cte[5:]}_{len(scan.measures) + 1}", name, atom.arg,
                                               condition, fraction)
            return scan.measures[mkey].name

        if func == "avg" and (atom.window is not None or scan.level != level.key):
            parts = [measure("sum"), measure("count")]  # windows and roll-ups combine sums and counts
        else:
            parts = [measure(func)]
        if scan.level != level.key:
            scan.rollup.extend(p for p in parts if p not in scan.rollup)
        agg = _OVER_PERIODS.get(atom.func)
        if atom.window is None or agg is None:
            cols: list[exp.Expression] = [col(p, level.v) for p in parts]
        else:
            cols = [self._over(agg(this=col(p, level.v)), level, atom.window) for p in parts]
        return self.d.divide(cols[0], cols[1]) if len(cols) == 2 else cols[0]

    def _over(self, agg: exp.Expression, level: _Level, window: Window | None, *,
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
    def _stock_value(self, atom: Atom, level: _Level) -> exp.Expression:
        key = (atom.dataset, level.key)
        if key not in self.stocks:
            self.stocks[key] = _Stock(self.name("k"), atom.dataset, level.key)
        stock = self.stocks[key]
        stock.filters.append(atom.kpi_filter)
        condition = _and(atom.condition, atom.kpi_filter)

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
    def _range_value(self, atom: Atom, level: _Level) -> exp.Expression:
        key = (atom, level.key)
        if key not in self.ranges:
            self.ranges[key] = _Range(self.name("r"), atom, level.key)
        return col(f"{self.ranges[key].cte}_value", level.v)

    # ================================================================ emit
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
        if isinstance(relation, exp.Table):
            relation = relation.copy()
            relation.set("alias", exp.TableAlias(this=sql.ident(name)))
            return relation
        return sql.subquery(relation, name)

    def _row(self, dataset: str) -> Translator:
        return Translator(self.d, self.catalog.functions, column=lambda ref: col(ref.name, ref.qualifier or dataset))

    def _dims(self, dataset: str, level: _Level) -> list[f.Node]:
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
        if self.all:
            if q.start:
                conds.append(exp.GTE(this=time_col.copy(), expression=d.time_literal(q.start)))
            if q.end:
                conds.append(exp.LT(this=time_col.copy(), expression=d.time_literal(q.end + dt.timedelta(days=1))))
        else:
            if lower is not None and not unbounded:
                conds.append(exp.GTE(this=time_col.copy(),
                                     expression=d.time_literal(P.start_date(lower, self.grain))))
            if self.hi_lit is not None:
                conds.append(exp.LT(this=time_col.copy(),
                                    expression=d.time_literal(P.end_date(self.hi_lit, self.grain))))
        return conds or [_not_null(time_col)]

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

    def _group_columns(self, dataset: str, level: _Level, tr: Translator,
                       p: exp.Expression | None) -> tuple[list[exp.Expression], list[exp.Expression]]:
        columns = [alias(p if p is not None else lit(0), "p")]
        group = [p.copy()] if p is not None else []
        for name, node in zip(level.dims, self._dims(dataset, level)):
            expr = tr(node)
            columns.append(alias(expr, f"d_{name}"))
            group.append(expr.copy())
        return columns, group

    def _emit_scan(self, scan: _Scan, levels: dict[str, _Level]) -> None:
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
            p = exp.Greatest(this=p, expressions=[lit(self.clamp)])
        columns, group = self._group_columns(scan.dataset, level, tr, p)
        for m in measures:
            condition = _strip(m.condition, shared)
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
        source = _Source(scan.cte, [(m.name, m.func in _ZERO_WHEN_EMPTY) for m in measures], True,
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
            columns = [col("p")] + [alias(_OVER_PERIODS[by_name[n].func](this=col(n)), n) for n in scan.rollup]
            name = f"{scan.cte}t"
            self.cte(name, sql.select(columns, table_ref(scan.cte), group_by=[col("p")]))
            levels["t"].sources.append(_Source(name, [(n, by_name[n].func in _ZERO_WHEN_EMPTY) for n in scan.rollup],
                                               True, scan.unbounded))

    def _emit_stock(self, stock: _Stock, level: _Level) -> None:
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
                p = exp.Greatest(this=p, expressions=[lit(self.clamp)])
            columns, group = self._group_columns(dataset, level, tr, p)
            for delta, at_edge, func, arg, condition in measures:
                condition_sql = tr(_strip(condition, shared)) if _strip(condition, shared) is not None else None
                arg_sql = tr(arg) if arg is not None else None
                total = self.d.aggregate(func, arg_sql, condition_sql)
                exact_total = self.d.aggregate(func, arg_sql.copy() if arg_sql is not None else None,
                                               sql.and_(condition_sql.copy() if condition_sql else None, exact.copy()))
                if sign < 0:
                    total, exact_total = exp.Neg(this=wrap(total)), exp.Neg(this=wrap(exact_total))
                columns += [alias(total, delta), alias(exact_total, at_edge)]
            conds = [_not_null(edge.copy())]
            if self.hi_lit is not None:
                # changes after the first instant after the last period do not matter; the bound is one
                # period later and strict, so that text timestamps (SQLite) compare right at midnight
                conds.append(exp.LT(this=edge.copy(),
                                    expression=self.d.time_literal(P.end_date(self.hi_lit + 1, self.grain))))
            conds += [c.copy() for c in (never_active,) if c is not None]
            conds += [tr(c) for c in (query_where, where_filter) if c is not None]
            branches.append(sql.select(columns, base, joins=joins, where=sql.and_(*conds), group_by=group))
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
        source = _Source(stock.cte, [(n, True) for m in measures for n in m[:2]], True, unbounded=self.clamp is None)
        if level.dims:
            # the dimension values of rows active at some instant of the reported periods
            base, joins = self._from(dataset, used)
            joins.extend(self.bounds_join())
            from_p = self.d.period_index(start_col.copy(), self.grain)
            started = sql.or_(  # by the first instant after the last period (at=end reads it), included
                exp.LTE(this=from_p, expression=self.bound("hi")),
                sql.and_(exp.EQ(this=from_p.copy(), expression=sql.binary(exp.Add, self.bound("hi"), lit(1))),
                         self.d.is_period_start(start_col.copy(), from_p.copy(), self.grain)))
            conds = [_not_null(start_col.copy()), started]
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

    def _emit_range_rows(self, item: _Range, level: _Level) -> None:
        """The rows a range aggregate reads, with their periods (before the spine: they bound it)."""
        atom, cte = item.atom, item.cte
        dataset = atom.dataset
        entry = self.catalog.datasets[dataset]
        query_where = self._where(dataset)
        condition = _and(atom.condition, atom.kpi_filter)
        dims = self._dims(dataset, level)
        base, joins = self._from(dataset, [atom.arg, condition, *dims, query_where])
        active = entry.model.active
        tr = self._row(dataset)
        columns: list[exp.Expression] = []
        conds: list[exp.Expression] = []
        active = entry.model.active
        if atom.at is not None:
            assert active is not None
            for column, prefix in ((active.from_, "f"), (active.to, "t")):
                if column is None:
                    continue
                edge = col(column, dataset)
                p = self.d.period_index(edge, self.grain)
                columns += [alias(p, f"{prefix}a"),
                            alias(self.d.is_period_start(edge.copy(), p.copy(), self.grain), f"{prefix}e")]
            conds.append(_not_null(col(active.from_, dataset)))
            if active.to:  # a row whose span ends where it starts, or before, is never active
                conds.append(sql.or_(_is_null(col(active.to, dataset)),
                                     self.d.time_gt(col(active.to, dataset), col(active.from_, dataset))))
        else:
            time_col = col(atom.time or entry.model.time, dataset)
            columns.append(alias(self.d.period_index(time_col, self.grain), "q"))
            unbounded = atom.window is not None and atom.window.kind == "cumulative"
            conds += self._time_range(time_col, item.lower, unbounded)
        columns += [alias(tr(node), f"d_{name}") for name, node in zip(level.dims, dims)]
        columns.append(alias(tr(atom.arg), "x"))
        # the inner where and null values exclude a row from the value, not from the rows read
        counted = sql.and_(tr(atom.condition) if atom.condition is not None else None, _not_null(tr(atom.arg)))
        columns.append(alias(exp.Case(ifs=[exp.If(this=counted, true=lit(1))], default=lit(0)), "c"))
        conds += [tr(c) for c in (atom.kpi_filter, query_where) if c is not None]
        rows = f"{cte}w"
        self.cte(rows, sql.select(columns, base, joins=joins, where=sql.and_(*conds)))
        if atom.at is None:
            self.raw.append((rows, "q", atom.window is not None and atom.window.kind == "cumulative"))
        else:
            self.raw.append((rows, "fa", True))
            if active.to:
                self.raw.append((rows, "ta", True))

    def _emit_range(self, item: _Range, level: _Level) -> None:
        """Aggregates that do not combine across periods: each spine period joined to the rows it reads."""
        atom, cte = item.atom, item.cte
        entry = self.catalog.datasets[atom.dataset]
        active = entry.model.active
        func = "percentile" if atom.func == "median" else atom.func
        fraction = Decimal("0.5") if atom.func == "median" else atom.fraction
        rows = f"{cte}w"
        per = col("p", "kpi_periods")

        def r(name: str) -> exp.Column:
            return col(name, rows)

        if atom.at is not None:
            instant = per if atom.at == "start" else sql.binary(exp.Add, per, lit(1))
            match = [sql.or_(exp.LT(this=r("fa"), expression=instant),
                             sql.and_(exp.EQ(this=r("fa"), expression=instant.copy()), _truthy(r("fe"))))]
            if active.to:
                match.append(sql.or_(_is_null(r("ta")), exp.GT(this=r("ta"), expression=instant.copy()),
                                     sql.and_(exp.EQ(this=r("ta"), expression=instant.copy()),
                                              exp.Not(this=wrap(_truthy(r("te")))))))
        else:
            window = atom.window
            match = [exp.LTE(this=r("q"), expression=per)]
            if window is None:
                match = [exp.EQ(this=r("q"), expression=per)]
            elif window.kind == "rolling":
                match.append(exp.GTE(this=r("q"), expression=sql.binary(exp.Sub, per.copy(), lit(window.periods - 1))))
            elif window.kind == "to_date":
                match.append(exp.EQ(this=self._group_key(r("q"), window.grain),
                                    expression=self._group_key(per.copy(), window.grain)))
        keys = [per.copy(), *[r(f"d_{d}") for d in level.dims]]
        names = ["p", *[f"d_{d}" for d in level.dims]]
        counted = exp.EQ(this=r("c"), expression=lit(1))
        value = f"{cte}_value"
        if func == "percentile" and not self.d.native_percentile:
            pairs = f"{cte}x"
            match.append(counted)
            self.cte(pairs, sql.select([alias(k, n) for k, n in zip(keys, names)] + [alias(r("x"), "x")],
                                       table_ref("kpi_periods"),
                                       joins=[sql.join(table_ref(rows), sql.and_(*match), kind="INNER")]))
            self._emit_rank_percentile(cte, pairs, names, fraction, value)
        else:
            periods_join = sql.join(table_ref(rows), sql.and_(*match), kind="INNER")
            agg = self.d.aggregate(func, r("x"), counted, fraction)
            self.cte(cte, sql.select([alias(k, n) for k, n in zip(keys, names)] + [alias(agg, value)],
                                     table_ref("kpi_periods"), joins=[periods_join],
                                     group_by=[k.copy() for k in keys]))
        source = _Source(cte, [(value, func in _ZERO_WHEN_EMPTY)], False)
        if level.dims:
            if atom.at is None:
                seen = exp.Between(this=r("q"), low=self.bound("lo"), high=self.bound("hi"))
            else:  # active at some instant from the first period's start to the first instant after the last
                seen = sql.or_(exp.LTE(this=r("fa"), expression=self.bound("hi")),
                               sql.and_(exp.EQ(this=r("fa"), expression=sql.binary(exp.Add, self.bound("hi"),
                                                                                      lit(1))), _truthy(r("fe"))))
                if active.to:
                    ended_before = sql.or_(exp.LT(this=r("ta"), expression=self.bound("lo")),
                                           sql.and_(exp.EQ(this=r("ta"), expression=self.bound("lo")),
                                                    _truthy(r("te"))))
                    seen = sql.and_(seen, sql.or_(_is_null(r("ta")), exp.Not(this=wrap(ended_before))))
            source.combos = sql.select([r(f"d_{d}") for d in level.dims], table_ref(rows),
                                       joins=self.bounds_join(),
                                       where=seen, distinct=True)
        level.sources.append(source)

    def _emit_rank_percentile(self, cte: str, rows: str, keys: list[str], fraction: Decimal, value: str) -> None:
        """A continuous percentile from row ranks, for engines without an aggregate for it."""
        partition = [col(k) for k in keys]
        ranked = f"{cte}n"
        rank = exp.Window(this=exp.RowNumber(), partition_by=[c.copy() for c in partition] or None,
                          order=exp.Order(expressions=[exp.Ordered(this=col("x"), nulls_first=False)]), over="OVER")
        count = exp.Window(this=exp.Count(this=exp.Star()), partition_by=[c.copy() for c in partition] or None,
                           over="OVER")
        position = sql.binary(exp.Mul, sql.binary(exp.Sub, count, lit(1)), lit(fraction))  # 0-based, fractional
        self.cte(ranked, sql.select([*partition, col("x"), alias(rank, "rn"), alias(position, "h")], table_ref(rows)))
        whole = self.d.integer(col("h"))

        def value_at(offset: int) -> exp.Expression:
            rank_wanted = sql.binary(exp.Add, whole.copy(), lit(offset))
            return exp.Max(this=exp.Case(ifs=[exp.If(this=exp.EQ(this=col("rn"), expression=rank_wanted),
                                                     true=col("x"))]))

        lower, upper = value_at(1), value_at(2)
        fraction_part = exp.Max(this=sql.binary(exp.Sub, col("h"), whole.copy()))
        spread = sql.binary(exp.Sub, exp.Coalesce(this=upper, expressions=[lower.copy()]), lower.copy())
        interpolated = sql.binary(exp.Add, lower, sql.binary(exp.Mul, fraction_part, spread))
        self.cte(cte, sql.select([col(k) for k in keys] + [alias(interpolated, value)], table_ref(ranked),
                                 group_by=[col(k) for k in keys]))

    # -- bounds, spine, values ---------------------------------------------------
    def _emit_bounds(self) -> None:
        """lo..hi: the reported periods; spine_lo..spine_hi: every period a window or previous() reads."""
        if self.literal_bounds:
            return  # every bound is a literal, written where it is used

        def union(items: list[tuple[str, str, bool]]) -> exp.Expression:
            parts = [sql.select([alias(col(column), "p")], table_ref(cte)) for cte, column, _ in items]
            out: exp.Expression = parts[0]
            for part in parts[1:]:
                out = exp.Union(this=out, expression=part, distinct=False)
            return out

        needs_data = self.lo_lit is None or self.hi_lit is None
        lo = lit(self.lo_lit) if self.lo_lit is not None else exp.Min(this=col("p"))
        hi = lit(self.hi_lit) if self.hi_lit is not None else exp.Max(this=col("p"))
        if self.lo_lit is None:
            # nothing is earlier than the earliest data, but previous() reads the (empty) periods before it
            spine_lo: exp.Expression = exp.Min(this=col("p"))
            if self.max_shift:
                spine_lo = sql.binary(exp.Sub, spine_lo, lit(self.max_shift))
        else:
            spine_lo = lit(self.spine_lower if self.spine_lower is not None else self.lo_lit)
            unbounded = [item for item in self.raw if item[2]]
            if unbounded:  # cumulative() and stocks read from the first period of data on
                earliest = exp.Subquery(this=sql.select([exp.Min(this=col("p"))],
                                                        sql.subquery(union(unbounded), "kpi_early")))
                spine_lo = _smaller(earliest, spine_lo)
        spine_hi = sql.binary(exp.Add, hi.copy(), lit(1)) if self.stock_end else hi.copy()
        from_ = sql.subquery(union(self.raw), "kpi_all") if needs_data and self.raw else None
        self.cte("kpi_bounds", sql.select([alias(lo, "lo"), alias(hi, "hi"), alias(spine_lo, "spine_lo"),
                                           alias(spine_hi, "spine_hi")], from_))

    def _emit_periods(self) -> None:
        bounds = None if self.literal_bounds else "kpi_bounds"
        low, high = self.bound("spine_lo"), self.bound("spine_hi")
        if self.all:
            body = sql.select([alias(lit(0), "p")])
        elif self.d.uses_recursive_series:
            self.recursive = True
            body = self.d.recursive_series(low, high, bounds, "kpi_periods")
        else:
            body = self.d.series(low if bounds is None else col("spine_lo"),
                                 high if bounds is None else col("spine_hi"), bounds)
        self.cte("kpi_periods", body)

    def _emit_combos(self, level: _Level) -> None:
        dim_cols = [col(f"d_{d}") for d in level.dims]
        parts: list[exp.Expression] = []
        for source in level.sources:
            if source.combos is not None:
                parts.append(source.combos)
            elif source.raw:
                in_range = exp.Between(this=col("p", source.cte), low=self.bound("lo"),
                                       high=self.bound("hi"))
                parts.append(sql.select([c.copy() for c in dim_cols], table_ref(source.cte),
                                        joins=self.bounds_join(),
                                        where=in_range))
        if parts:
            union = parts[0]
            for part in parts[1:]:
                union = exp.Union(this=union, expression=part, distinct=False)
            combos = sql.select([c.copy() for c in dim_cols], sql.subquery(union, "kpi_seen"), distinct=True)
        else:
            combos = sql.select([alias(exp.null(), f"d_{d}") for d in level.dims], where=exp.false())
        self.cte("kpi_combos", combos)

    def _emit_values(self, level: _Level) -> None:
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

    def _final(self, metrics: dict[str, f.Node], levels: dict[str, _Level]) -> exp.Select:
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
        if not (self.literal_bounds and self.spine_lower == self.lo_lit and not self.stock_end):
            # the spine reaches outside lo..hi
            where = exp.Between(this=col("p", x), low=self.bound("lo"), high=self.bound("hi"))
        order = [exp.Ordered(this=col("p", x), nulls_first=False)]
        order += [exp.Ordered(this=col(f"d_{d}", x), nulls_first=False) for d in self.q.by]
        return sql.select(columns, table_ref(x), joins=joins, where=where, order_by=order)


def _smaller(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """The smaller of two integers; ``b`` when ``a`` is null (no rows)."""
    a_is_smaller = exp.LT(this=wrap(a), expression=wrap(b))
    return exp.Case(ifs=[exp.If(this=a_is_smaller, true=a.copy())], default=b.copy())


def _and(a: f.Node | None, b: f.Node | None) -> f.Node | None:
    if a is None or b is None:
        return a if b is None else b
    return f.Binary(0, 0, op="and", left=a, right=b)


def _strip(condition: f.Node | None, shared: f.Node | None) -> f.Node | None:
    """A measure's condition without the KPI filter that WHERE already applies."""
    if shared is None or condition is None:
        return condition
    if condition == shared:
        return None
    if isinstance(condition, f.Binary) and condition.op == "and" and condition.right == shared:
        return condition.left
    return condition


def _not_null(value: exp.Expression) -> exp.Expression:
    return exp.Not(this=exp.Is(this=wrap(value), expression=exp.null()))


def _is_null(value: exp.Expression) -> exp.Expression:
    return exp.Is(this=wrap(value), expression=exp.null())


def _truthy(value: exp.Expression) -> exp.Expression:
    """A computed boolean column as a condition on every engine (SQLite keeps 0/1)."""
    return exp.EQ(this=value, expression=exp.true())
