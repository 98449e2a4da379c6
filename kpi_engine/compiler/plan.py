"""The plan of a query: what every part of its SQL computes, complete before any SQL is written.

The passes (``passes/``) build it, each a plain function from one frozen :class:`Plan` to the
next; the renderers (``render/``) turn the finished plan into SQL. A plan says, per dataset,
the scans that read it and their measures, filters and time columns; the periods the spine
covers; each aggregate's value (a flow, a stock, or a per-period range aggregate, possibly over
a window) and the ``previous()`` shifts; and the final columns. Tests can build one and look at
it without rendering anything.

The SQL of a plan, CTE by CTE (names in brackets)::

    [kpi_s*]       flow scans: one pass per dataset and time column, rows -> (period index p,
                   dimensions, measures); every KPI's aggregates are FILTER (WHERE ...) columns
                   of the same GROUP BY, so a batch of KPIs reads each dataset once
    [kpi_k*g]      a stock's one read of its dataset: rows grouped by the periods their span starts and
                   ends in; flows by those columns (signups, churns) are regrouped from it too
    [kpi_k*]       stock scans: +value in the period a row's active span starts, -value where it ends
    [kpi_bounds]   reported periods lo..hi and the spine's extent (when not literal)
    [kpi_periods]  every period index of the spine (read-before periods included)
    [kpi_r*]       the aggregates that do not combine across periods (count_distinct, median,
                   percentile under a window; min/max/... of a stock): periods x rows
    [kpi_combos]   the dimension values seen in the reported periods
    [kpi_v*]       spine LEFT JOIN sources: 0 for empty counts and sums, null otherwise
    [kpi_w*]       each aggregate's value; windows over the dense spine (rolling, to_date,
                   cumulative, stock levels)
    [kpi_x*]       previous(): LAG over the dense spine
    final          period date, dimensions, each KPI's arithmetic; lo..hi only; ordered

Periods are integer indexes (``periods``), so shifting and windowing is integer arithmetic on a
spine with one row per period and dimension values. ``*d`` CTEs carry the query's dimensions,
``*t`` ones (for ``total()``) none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlglot import exp

from ..formulas import syntax as f
from ..formulas.binder import Atom, Window
from .booleans import Boolean
from .periods import UTC, Calendar, Move
from .query import Query

__all__ = [
    "Bounds",
    "CompiledQuery",
    "FlowScan",
    "LevelPlan",
    "Measure",
    "Plan",
    "RangeAggregate",
    "Shift",
    "StockMeasure",
    "StockScan",
    "Value",
]

#: aggregates whose value over no rows is 0 (the others give null)
ZERO_WHEN_EMPTY = frozenset({"count", "count_distinct", "sum"})
#: aggregates computed from per-period partial results (sums of sums, min of mins)
COMBINABLE = frozenset({"count", "sum", "min", "max", "avg"})
#: how per-period partial results of an aggregate combine over several periods
OVER_PERIODS = {"count": "sum", "sum": "sum", "avg": "sum", "min": "min", "max": "max"}


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
    #: result columns that hold booleans (``booleans.Boolean``), for engines that return them as 0/1
    booleans: tuple[tuple[str, Boolean], ...] = ()
    #: a SELECT of each KPI's value over no rows (one row), for results merged across sources; written
    #: on first use (``empty_sql``), as most queries never need it
    empty: Callable[[], exp.Expression] | None = None
    dialect: object | None = None  # the SqlDialect that writes ``empty``
    #: a SELECT of one row, the first and last naive UTC time of each of ``extent_keys`` (dataset, column):
    #: columns whose periods a zone's offsets would cut over fifty years of changes; run in the same snapshot,
    #: its answer (``Query.extents``) lets them be cut with the offsets of the data's own range
    extent_sql: str | None = None
    extent_keys: tuple[tuple[str, str], ...] = ()

    @property
    def empty_sql(self) -> str:
        assert self.empty is not None and self.dialect is not None
        return self.dialect.generate(self.empty(), pretty=False)


@dataclass(frozen=True, slots=True)
class Measure:
    """One aggregate column of a flow scan, e.g. ``COUNT(*) FILTER (WHERE status = 'open') AS m1_2``."""

    name: str
    func: str  # count | count_distinct | sum | avg | min | max | percentile
    arg: f.Node | None
    condition: f.Node | None  # the aggregate's own where, and the KPI's filter
    fraction: Decimal | None = None  # percentile's p (median: 0.5)


@dataclass(frozen=True, slots=True)
class FlowScan:
    """One pass over a dataset, its rows placed in periods by one time column, grouped by period and
    dimensions."""

    cte: str
    dataset: str
    time: str | None
    level: str  # the level whose dimensions it groups by: "d" (the query's) or "t" (none)
    measures: tuple[Measure, ...] = ()
    #: the KPI filter of each aggregate it computes (None: no filter): the rows it must read
    filters: tuple[f.Node | None, ...] = ()
    #: the KPI filters of the aggregates not under total(): their rows give the dimension values
    dims_filters: tuple[f.Node | None, ...] = ()
    lower: int | None = None  # the earliest period it reads, when the query has a --from
    unbounded: bool = False  # cumulative(): every earlier row
    #: measures also summed without dimensions, for total() of combinable aggregates
    rollup: tuple[str, ...] = ()
    #: the stock scan whose single read of the dataset it comes from (its time column is the stock's
    #: from or to column), and which of the two: "from" | "to"; None: it reads the dataset itself
    folded_into: str | None = None
    side: str | None = None


@dataclass(frozen=True, slots=True)
class StockMeasure:
    """The change a row makes to a stock where its active span starts (+) and ends (-)."""

    name: str
    func: str  # count | sum
    arg: f.Node | None
    condition: f.Node | None


@dataclass(frozen=True, slots=True)
class StockScan:
    """The start and end events of the rows of a dataset with ``active``, from one read of it: rows grouped by
    the periods of their from and to columns, then +value at the first and -value at the second."""

    cte: str
    dataset: str
    level: str
    measures: tuple[StockMeasure, ...] = ()
    filters: tuple[f.Node | None, ...] = ()


@dataclass(frozen=True, slots=True)
class RangeAggregate:
    """An aggregate computed per spine period from the rows that period reads."""

    cte: str
    atom: Atom
    level: str
    lower: int | None = None


@dataclass(frozen=True, slots=True)
class Value:
    """How one atom's value is read off its level's joined sources (a column of the W layer)."""

    column: str
    kind: Literal["flow", "stock", "range"]
    #: flow: its measure columns (avg under a window or a roll-up: sum and count); stock: its change
    #: columns (avg: sum and count); range: the range aggregate's value column
    parts: tuple[str, ...]
    func: str
    window: Window | None = None
    at: str | None = None


@dataclass(frozen=True, slots=True)
class Shift:
    """previous(): ``of`` in an earlier period, as column ``column``.

    ``periods`` back when that is the same for every period (a LAG); otherwise ``moves`` say which
    period each one reads (the same day a month back is 28 to 31 days back: a join)."""

    column: str
    of: str
    periods: int = 0
    moves: tuple[Move, ...] = ()


@dataclass(frozen=True, slots=True)
class LevelPlan:
    key: str  # "d": the query's dimensions; "t": none, for total()
    dims: tuple[str, ...]
    #: atom -> its column in the level's output (W or X layer)
    columns: tuple[tuple[Atom, str], ...] = ()
    values: tuple[Value, ...] = ()
    shifts: tuple[Shift, ...] = ()

    @property
    def v(self) -> str:
        return f"kpi_v{self.key}"

    @property
    def inline(self) -> bool:
        """No window and no previous(): the final SELECT computes the values from the V layer itself."""
        return not self.shifts and all(_plain(value) for value in self.values)

    @property
    def out(self) -> str:
        """The CTE holding every atom value of this level."""
        if self.inline:
            return self.v
        return f"kpi_x{self.key}" if self.shifts else f"kpi_w{self.key}"

    def column_of(self, atom: Atom) -> str:
        return next(column for key, column in self.columns if key == atom)

    def value(self, column: str) -> Value:
        return next(v for v in self.values if v.column == column)


def _plain(value: Value) -> bool:
    """A value that is read as is (no window over the spine)."""
    if value.kind == "stock":
        return False
    return value.kind == "range" or value.window is None


@dataclass(frozen=True, slots=True)
class Bounds:
    """The periods of the query, as integer indexes."""

    lo: int | None = None  # the first reported period, when --from is given (0 at grain all)
    hi: int | None = None  # the last one, when --to is given
    spine_lower: int | None = None  # the first period the spine holds, when known
    #: rows before the spine are summed into this period (running sums: stocks, cumulative())
    clamp: int | None = None
    max_shift: int = 0  # at most how many periods previous() reaches back
    literal: bool = False  # every bound is a literal: no kpi_bounds CTE


@dataclass(frozen=True, slots=True)
class Plan:
    query: Query
    metrics: tuple[tuple[str, f.Node], ...] = ()  # KPI name -> bound metric tree
    atoms: tuple[Atom, ...] = ()  # every aggregate of the metrics, in order, without repeats
    datasets: tuple[str, ...] = ()
    where: f.Node | None = None  # --where, bound: dimension names resolved per dataset when rendered
    levels: tuple[LevelPlan, ...] = ()
    scans: tuple[FlowScan, ...] = ()
    stocks: tuple[StockScan, ...] = ()
    ranges: tuple[RangeAggregate, ...] = ()
    bounds: Bounds = Bounds()
    calendar: Calendar = UTC  # the project's, in the query's time zone

    @property
    def grain(self) -> str:
        return self.query.grain

    @property
    def all(self) -> bool:
        return self.query.grain == "all"

    def level(self, key: str) -> LevelPlan:
        return next(level for level in self.levels if level.key == key)

    def reads(self) -> dict[str, int]:
        """How many times the query reads each dataset (not counting joins): the flow scans that
        are not folded into a stock, one read per stock, one per range aggregate."""
        from collections import Counter

        read = Counter(s.dataset for s in self.scans if s.folded_into is None)
        read.update(s.dataset for s in self.stocks)
        read.update(r.atom.dataset for r in self.ranges)
        return dict(sorted(read.items()))

    def replace_item(self, field: str, old: object, new: object) -> Plan:
        """The plan with ``new`` in place of ``old`` in one of its tuples (scans, stocks, ranges, levels)."""
        items = tuple(new if item is old else item for item in getattr(self, field))
        return dataclasses.replace(self, **{field: items})
