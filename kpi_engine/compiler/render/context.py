"""What the renderers share: the finished plan, the target dialect, and the small SQL pieces every
part of the query is written with (a dataset and its joins, its row expressions, the query's
--where on it, the rows a scan reads, windows over the spine)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from ...formulas import syntax as f
from ...formulas.binder import Window, rebuild
from .. import periods as P
from .. import sql
from ..passes.context import CompileContext
from ..plan import LevelPlan, Plan
from ..zone_changes import gap_moves_day
from ..sql import alias, col, lit, not_null, table_ref
from ..translate import Translator
from ...timezones import local_midnight_in

__all__ = ["RenderContext", "Source"]


@dataclass(slots=True)
class Source:
    """A CTE joined into a level's values table on (p, dims)."""

    cte: str
    columns: list[tuple[str, bool]]  # (name, 0 when the period has no rows)
    raw: bool  # its p are periods of data: they decide a missing --from/--to
    unbounded: bool = False  # reads rows before the spine would otherwise start
    combos: exp.Expression | None = None  # dimension values it reads in the reported periods


@dataclass(slots=True)
class RenderContext:
    plan: Plan
    compile: CompileContext
    #: level key -> the CTEs its values table joins, filled by the scan and range renderers
    sources: dict[str, list[Source]] = field(default_factory=dict)
    #: (CTE, column, reads every earlier row): CTEs whose periods hold data, for a missing --from/--to
    raw: list[tuple[str, str, bool]] = field(default_factory=list)
    #: the periods are a recursive CTE (engines without a series function): WITH RECURSIVE
    recursive: bool = False
    #: a level's values SELECT that the final SELECT takes over (no CTE), and its columns' expressions
    merged: dict[str, tuple[exp.Select, dict[str, exp.Expression]]] = field(default_factory=dict)
    #: (dataset, column) -> its naive UTC time: columns cut by a zone's offsets over no known range, whose
    #: range the query could measure first (``extent_select``)
    unranged: dict[tuple[str, str], exp.Expression] = field(default_factory=dict)

    @property
    def d(self):
        return self.compile.dialect

    @property
    def catalog(self):
        return self.compile.catalog

    def add_source(self, level: str, source: Source) -> None:
        self.sources.setdefault(level, []).append(source)

    # -- bounds ------------------------------------------------------------------
    def bound(self, name: str) -> exp.Expression:
        """lo, hi, spine_lo or spine_hi: a literal when both dates are given and no history is read."""
        bounds = self.plan.bounds
        if bounds.literal:
            value = {"lo": bounds.lo, "hi": bounds.hi, "spine_lo": bounds.spine_lower, "spine_hi": bounds.hi}[name]
            return lit(value)
        return col(name, "kpi_bounds")

    def bounds_join(self) -> list[exp.Join]:
        return [] if self.plan.bounds.literal else [sql.join(table_ref("kpi_bounds"), None, kind="CROSS")]

    # -- datasets and rows ---------------------------------------------------------
    def from_(self, dataset: str, used: Sequence[f.Node | None]) -> tuple[exp.Expression, list[exp.Join]]:
        """The dataset aliased by its name, LEFT JOIN every join the expressions read."""
        entry = self.catalog.datasets[dataset]
        base = self.relation(dataset, dataset)
        aliases = sorted({n.qualifier for node in used if node is not None for n in f.walk(node)
                          if isinstance(n, f.Ref) and n.qualifier is not None})
        joins = []
        for name in aliases:
            join = entry.model.joins[name]
            local, remote = join.columns
            right = self.relation(join.dataset, name)
            joins.append(sql.join(right, exp.EQ(this=col(local, dataset), expression=col(remote, name)), kind="LEFT"))
        return base, joins

    def relation(self, dataset: str, name: str) -> exp.Expression:
        relation = self.compile.relation(self.catalog.datasets[dataset], self.d)
        if not isinstance(relation, (exp.Table, exp.Query)):
            relation = exp.Table(this=relation)  # a table function (a plugin's file reader) is a relation
        if isinstance(relation, exp.Table):
            relation = relation.copy()
            relation.set("alias", exp.TableAlias(this=sql.ident(name)))
            return relation
        return sql.subquery(relation, name)

    def row(self, dataset: str) -> Translator:
        return Translator(self.d, self.catalog.functions, column=lambda ref: col(ref.name, ref.qualifier or dataset),
                          time=lambda how, node, value: self.convert(dataset, how, node, value))

    # -- time: local wall time of the calendar ---------------------------------------
    def _owner(self, dataset: str, node: f.Node) -> str:
        """The dataset whose zone a row expression's time is in: a joined column's dataset, else this one."""
        if isinstance(node, f.Ref) and node.qualifier is not None and node.qualifier != dataset:
            return self.catalog.datasets[dataset].model.joins[node.qualifier].dataset
        return dataset

    def convert(self, dataset: str, how: str, node: f.Node, value: exp.Expression,
                within: tuple[dt.datetime, dt.datetime] | None = None) -> exp.Expression:
        """A time argument of a row function as local time (date, hour, ...) or as an instant (*_between).

        With UTC everywhere nothing is converted, and the source is not asked what the column holds (its
        sessions read instants in UTC)."""
        owner = self._owner(dataset, node)
        zone, calendar = self.catalog.datasets[owner].model.timezone, self.plan.calendar.timezone
        if zone == "UTC" and (how == "instant" or calendar == "UTC"):
            return value
        kind = self.compile.time_kind(owner, node.name) if isinstance(node, f.Ref) else None
        if how == "instant":
            return self.d.instant(value, kind, zone)
        return self.d.local_time(value, kind, zone, calendar, period=how == "period", within=within)

    def time_of(self, dataset: str, column: str,
                within: tuple[dt.datetime, dt.datetime] | None = None) -> exp.Expression:
        """A dataset's time column as local wall time of the calendar, for the local day that places it in a
        period (its time of day may be off in a DST gap, where that cannot change the day). ``within``: the
        range of the rows read (naive UTC), when :meth:`time_range` limits them on both sides, or as measured
        on data that cannot change meanwhile."""
        return self.convert(dataset, "period", f.Ref(0, 0, name=column), col(column, dataset), within)

    def period_of(self, dataset: str, column: str, lower: int | None = None,
                  unbounded: bool = True) -> exp.Expression:
        """The index of the local period that holds a row's time; with the scan's ``lower`` and ``unbounded``
        (those of its :meth:`time_range`), the zone's offsets over the rows it reads replace a conversion."""
        first, after = self.read_days(lower, unbounded)
        within = None
        if first is not None and after is not None and dt.date(1, 1, 3) <= first and after <= dt.date(9999, 12, 29):
            # two days either side: a row's UTC time is within 26 hours of its local time
            within = (dt.datetime.combine(first - dt.timedelta(days=2), dt.time()),
                      dt.datetime.combine(after + dt.timedelta(days=2), dt.time()))
        if within is None:
            within = self._extent(dataset, column)
        if within is not None:
            cut = self._period_by_starts(dataset, column, within)
            if cut is not None:
                return cut
        return self.d.period_index(self.time_of(dataset, column, within), self.plan.grain, self.plan.calendar)

    def _offset_input(self, dataset: str, column: str) -> exp.Expression | None:
        """A time column as the naive UTC time the calendar zone's offsets are added to, or compared with the
        UTC instants its periods start at; None in UTC, or where the engine converts instead."""
        zone, calendar = self.catalog.datasets[dataset].model.timezone, self.plan.calendar.timezone
        if calendar == "UTC":
            return None
        return self.d.offset_input(col(column, dataset), self.compile.time_kind(dataset, column), zone, calendar)

    def _period_by_starts(self, dataset: str, column: str,
                          within: tuple[dt.datetime, dt.datetime]) -> exp.Expression | None:
        """A row's period from the UTC instants the periods in ``within`` start at, where its time is a UTC time
        the engine can compare with them and that cut is the cheaper one; else None."""
        utc = self._offset_input(dataset, column)
        return None if utc is None else self.d.period_by_starts(utc, self.plan.grain, self.plan.calendar, within)

    def _extent(self, dataset: str, column: str) -> tuple[dt.datetime, dt.datetime] | None:
        """The range of a column's times measured on data that cannot change meanwhile (``Query.extents``);
        else None, and the column is noted when a zone's offsets would cut it (over every change since 1970,
        where its data likely spans a few)."""
        for known_dataset, known_column, first, after in self.plan.query.extents:
            if (known_dataset, known_column) == (dataset, column):
                return first, after
        utc = self._offset_input(dataset, column)
        if utc is not None:
            self.unranged[(dataset, column)] = utc
        return None

    def extent_select(self) -> exp.Select | None:
        """One row: the first time and the time just after the last (naive UTC) of each unranged column, each
        dataset read once; None when there is none, or when a dataset is read from files (a file may change
        between two statements, where a database answers both from one snapshot)."""
        if not self.unranged:
            return None
        by_dataset: dict[str, list[exp.Expression]] = {}
        for (dataset, _), utc in self.unranged.items():
            by_dataset.setdefault(dataset, []).append(utc)
        parts = []
        for i, (dataset, times) in enumerate(by_dataset.items()):
            relation = self.relation(dataset, dataset)
            if any(not isinstance(table.this, exp.Identifier) for table in relation.find_all(exp.Table)):
                return None
            bounds = [kind(this=utc.copy()) for utc in times for kind in (exp.Min, exp.Max)]
            parts.append(sql.subquery(sql.select(bounds, relation), f"kpi_extent_{i + 1}"))
        return sql.select([exp.Star()], parts[0], joins=[sql.join(part, None, kind="CROSS") for part in parts[1:]])

    def read_days(self, lower: int | None, unbounded: bool) -> tuple[dt.date | None, dt.date | None]:
        """The first local day of the rows a scan reads and the first day after them (None: no limit)."""
        q, bounds = self.plan.query, self.plan.bounds
        if self.plan.all:
            return q.start, P.day_after(q.end) if q.end else None
        first = after = None
        if lower is not None and not unbounded:
            first = P.start_date_or_none(lower, self.plan.grain, self.plan.calendar)  # None: before 0001-01-01
        if bounds.hi is not None:
            after = P.start_date_or_none(bounds.hi + 1, self.plan.grain, self.plan.calendar)  # None: after 9999
        return first, after

    def before_day(self, dataset: str, column: str, day: dt.date, *, upper: bool) -> exp.Expression:
        """The bound that a column's raw value is compared with for local midnight of ``day``: a date for a DATE
        column, the instant for an instant, the local date for naive times in the calendar's zone, and a day
        wider otherwise (the period index, computed from local time, is what decides)."""
        zone, calendar = self.catalog.datasets[dataset].model.timezone, self.plan.calendar.timezone
        kind = None if zone == calendar == "UTC" else self.compile.time_kind(dataset, column)
        if kind == "timestamptz":
            return self.d.instant_literal(local_midnight_in(day, calendar, None))
        if kind != "date" and (zone != calendar or self.d.name == "sqlite" or gap_moves_day(calendar)):
            # a naive wall time of another zone is within a day of the local one (SQLite text may carry an offset)
            widened = day + dt.timedelta(days=1) if upper else day - dt.timedelta(days=1)
            if dt.date(1, 1, 2) <= widened <= dt.date(9999, 12, 30):
                day = widened
        return self.d.time_literal(day)

    def dims(self, dataset: str, dims: Sequence[str]) -> list[f.Node]:
        return [self.compile.binder.dimension(dataset, d) for d in dims]

    def where(self, dataset: str) -> f.Node | None:
        """--where with each dimension replaced by its expression on this dataset."""
        if self.plan.where is None:
            return None
        binder = self.compile.binder

        def substitute(node: f.Node) -> f.Node:
            if isinstance(node, f.Ref):
                return binder.dimension(dataset, node.name)
            return rebuild(node, substitute)

        return substitute(self.plan.where)

    def time_range(self, dataset: str, column: str, lower: int | None, unbounded: bool) -> list[exp.Expression]:
        """Rows with a time, inside the periods a scan must read (a range excludes nulls by itself)."""
        time_col = col(column, dataset)
        q = self.plan.query
        conds: list[exp.Expression] = []
        first, after = self.read_days(lower, unbounded)
        for day, upper in ((first, False), (after, True)):
            if day is None:
                continue
            bound = self.before_day(dataset, column, day, upper=upper)
            conds.append((exp.LT if upper else exp.GTE)(this=time_col.copy(), expression=bound))
            if q.grain == "all" and bound != self.d.time_literal(day):
                # no period index decides for grain all: the widened bound only narrows the read, local time decides
                conds.append((exp.LT if upper else exp.GTE)(this=self.d.date(self.time_of(dataset, column)),
                                                            expression=lit(day.isoformat())))
        return conds or [not_null(time_col)]

    def group_columns(self, dataset: str, dims: Sequence[str], tr: Translator,
                      p: exp.Expression | None) -> tuple[list[exp.Expression], list[exp.Expression]]:
        """(SELECT columns, GROUP BY expressions) of a scan: its period index p and its dimensions."""
        columns = [alias(p if p is not None else lit(0), "p")]
        group = [p.copy()] if p is not None else []
        for name, node in zip(dims, self.dims(dataset, dims)):
            expr = tr(node)
            columns.append(alias(expr, f"d_{name}"))
            group.append(expr.copy())
        return columns, group

    def v_column(self, level: LevelPlan, name: str) -> exp.Expression:
        """A column of a level's values: of its CTE, or the expression itself when the final SELECT took it over."""
        merged = self.merged.get(level.key)
        return merged[1][name].copy() if merged else col(name, level.v)

    # -- windows over the spine -----------------------------------------------------
    def over(self, agg: exp.Expression, level: LevelPlan, window: Window | None) -> exp.Expression:
        """``agg OVER (PARTITION BY dims ORDER BY p ROWS ...)`` on the dense spine."""
        partition = [col(f"d_{d}", level.v) for d in level.dims]
        start: exp.Expression | str = "UNBOUNDED"
        if window is not None and window.kind == "rolling":
            start = lit(window.periods - 1)
        if window is not None and window.kind == "to_date":
            partition.append(self.group_key(col("p", level.v), window.grain))
        spec = exp.WindowSpec(kind="ROWS", start=start, start_side="PRECEDING", end="CURRENT ROW")
        return exp.Window(this=agg, partition_by=partition or None, order=self.by_period(level.v),
                          spec=spec, over="OVER")

    def shifted(self, p: exp.Expression, moves: Sequence[P.Move]) -> exp.Expression:
        """The index of the period previous() reads for period ``p`` (``periods.shifted_index`` in SQL)."""
        d, grain, calendar = self.d, self.plan.grain, self.plan.calendar
        for kind, k in moves:
            if kind == "periods":
                p = sql.binary(exp.Sub, p, lit(k))
                continue
            p = d.period_index(d.months_before(d.period_date(p, grain, calendar), k), grain, calendar)
        return p

    def by_period(self, table: str) -> exp.Order:
        """ORDER BY p in a window; p is never null, so the dialect's own null ordering is used."""
        return exp.Order(expressions=[exp.Ordered(this=col("p", table), nulls_first=self.d.nulls_first_by_default)])

    def group_key(self, p: exp.Expression, group: str) -> exp.Expression:
        """The index of the to_date() group (week, month, quarter, year, fiscal) holding period p."""
        grain, d, calendar = self.plan.grain, self.d, self.plan.calendar
        if grain == group:
            return p
        if grain == "month" and group in ("quarter", "year"):
            return d.int_div(p, 3 if group == "quarter" else 12)
        if grain == "quarter" and group == "year":
            return d.int_div(p, 4)
        if grain == "fiscal_quarter" and group == "fiscal_year":
            return d.int_div(p, 4)
        # the others (days in weeks, fiscal groups of calendar periods): through the period's first day
        return d.period_index(d.period_date(p, grain, calendar), group, calendar)
