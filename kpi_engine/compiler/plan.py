"""The plan of a query: what each CTE computes, built by the passes and read by the writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlglot import exp

from ..formulas import syntax as f
from ..formulas.binder import Atom
from .booleans import Boolean
from .sql import wrap

__all__ = ["CompiledQuery"]

ZERO_WHEN_EMPTY = frozenset({"count", "count_distinct", "sum"})
COMBINABLE = frozenset({"count", "sum", "min", "max", "avg"})
OVER_PERIODS = {"count": exp.Sum, "sum": exp.Sum, "avg": exp.Sum, "min": exp.Min, "max": exp.Max}


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
    #: a SELECT of each KPI's value over no rows (one row), for results merged across sources
    empty_sql: str = ""


@dataclass(slots=True)
class Measure:
    name: str
    func: str
    arg: f.Node | None
    condition: f.Node | None
    fraction: Decimal | None = None


@dataclass(slots=True)
class Scan:
    """One pass over a dataset, grouped by period and dimensions."""

    cte: str
    dataset: str
    time: str | None
    level: str
    measures: dict[tuple, Measure] = field(default_factory=dict)
    filters: list[f.Node | None] = field(default_factory=list)
    #: KPI filters of the aggregates that are not under total(): their rows give the dimension values
    dims_filters: list[f.Node | None] = field(default_factory=list)
    lower: int | None = None  # lowest period read, when --from is given
    unbounded: bool = False  # cumulative(): every earlier row
    rollup: list[str] = field(default_factory=list)  # measures also summed without dimensions


@dataclass(slots=True)
class Stock:
    """Start and end events of the rows of a dataset with ``active``."""

    cte: str
    dataset: str
    level: str
    #: (func, arg, condition) → (change column, func, arg, condition)
    measures: dict[tuple, tuple[str, str, f.Node | None, f.Node | None]] = field(default_factory=dict)
    filters: list[f.Node | None] = field(default_factory=list)


@dataclass(slots=True)
class Range:
    """An aggregate computed per spine period from the rows that period reads."""

    cte: str
    atom: Atom
    level: str
    lower: int | None = None


@dataclass(slots=True)
class Source:
    """A CTE joined into a level's values table on (p, dims)."""

    cte: str
    columns: list[tuple[str, bool]]  # (name, 0 when the period has no rows)
    raw: bool  # its p are periods of data: they decide a missing --from/--to
    unbounded: bool = False  # reads rows before the spine would otherwise start
    combos: exp.Expression | None = None  # dimension values it reads in the reported periods


@dataclass(slots=True)
class Level:
    key: str  # "d": the query's dimensions; "t": none, for total()
    dims: tuple[str, ...]
    sources: list[Source] = field(default_factory=list)
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


def smaller(a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """The smaller of two integers; ``b`` when ``a`` is null (no rows)."""
    a_is_smaller = exp.LT(this=wrap(a), expression=wrap(b))
    return exp.Case(ifs=[exp.If(this=a_is_smaller, true=a.copy())], default=b.copy())


def and_nodes(a: f.Node | None, b: f.Node | None) -> f.Node | None:
    if a is None or b is None:
        return a if b is None else b
    return f.Binary(0, 0, op="and", left=a, right=b)


def without_filter(condition: f.Node | None, shared: f.Node | None) -> f.Node | None:
    """A measure's condition without the KPI filter that WHERE already applies."""
    if shared is None or condition is None:
        return condition
    if condition == shared:
        return None
    if isinstance(condition, f.Binary) and condition.op == "and" and condition.right == shared:
        return condition.left
    return condition


def not_null(value: exp.Expression) -> exp.Expression:
    return exp.Not(this=exp.Is(this=wrap(value), expression=exp.null()))


def is_null(value: exp.Expression) -> exp.Expression:
    return exp.Is(this=wrap(value), expression=exp.null())
