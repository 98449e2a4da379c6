"""The functions a formula may call, and how each becomes SQL.

Three kinds (SPEC §4.1-4.3):

- ``aggregate``: count, sum, ... over the rows of one dataset, with an inner ``where``;
- ``window``: previous, growth, rolling, to_date, cumulative, total, which change
  which rows or which period the aggregates inside them read;
- ``row``: scalar functions usable inside aggregates, dimensions, filters and
  at the top level of a formula.

Row functions build their SQL through the target dialect (``compiler.dialects``),
so ``hour(ts)`` is ``HOUR(ts)`` on DuckDB and ``CAST(STRFTIME('%H', ts) AS INTEGER)``
on SQLite. Plugins add row functions through the ``register_functions`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sqlglot import exp

    from .syntax import Call, Node

    from ..compiler.dialects import SqlDialect

__all__ = ["BUILTIN_FUNCTIONS", "AGGREGATES", "WINDOWS", "FunctionSpec"]

SqlBuilder = Callable[["SqlDialect", Sequence["exp.Expression"]], "exp.Expression"]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A function of the formula language.

    ``sql`` receives the dialect adapter and the SQL of the arguments and
    returns the SQL of the call; it is required for row functions.
    """

    name: str
    kind: Literal["aggregate", "window", "row", "period"]
    signature: str
    description: str
    min_args: int
    max_args: int | None = None
    named: frozenset[str] = field(default_factory=frozenset)
    sql: SqlBuilder | None = None
    #: checks the written arguments before any SQL: (node at fault, message), or None when they are fine
    check: Callable[[Call], tuple[Node, str] | None] | None = None
    #: how many times its SQL repeats each argument (round() builds an exact rounding from its argument
    #: many times): nesting such calls multiplies the size of the query, which the binder bounds
    copies: int = 1
    #: its arguments are times read as the calendar's local time ("local": date, hour, ...) or as instants
    #: ("instant": elapsed times); None: as they are
    time_args: str | None = None

    def arity_message(self) -> str:
        if self.max_args == self.min_args:
            count = {0: "no arguments", 1: "1 argument"}.get(self.min_args, f"{self.min_args} arguments")
        elif self.max_args is None:
            count = f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        else:
            count = f"{self.min_args} to {self.max_args} arguments"
        return f"{self.name}() takes {count}: {self.signature}"


def _exp():
    """sqlglot's expressions, imported when a function is first written as SQL (loading stays light)."""
    from sqlglot import exp

    return exp


def _row(name: str, signature: str, description: str, lo: int, hi: int | None, sql: SqlBuilder,
         check: Callable[[Call], tuple[Node, str] | None] | None = None, copies: int = 1,
         time_args: str | None = None) -> FunctionSpec:
    return FunctionSpec(name, "row", signature, description, lo, hi, sql=sql, check=check, copies=copies,
                        time_args=time_args)


#: round()'s digits run from -MAX_DIGITS to MAX_DIGITS (the exact rounding is planned for them)
MAX_DIGITS = 15


def _round_digits(call: Call) -> tuple[Node, str] | None:
    """round()'s digits are a whole number written in the formula: the rounding is planned for them."""
    from . import syntax as f

    if len(call.args) < 2:
        return None
    node = call.args[1]
    sign, number = (-1, node.operand) if isinstance(node, f.Negate) else (1, node)
    if isinstance(number, f.Number) and number.value == number.value.to_integral_value() \
            and abs(number.value) <= MAX_DIGITS:
        return None
    return node, f"round() takes its digits as a whole number from -{MAX_DIGITS} to {MAX_DIGITS}, e.g. round(x, 2)"


_AGG_NAMED = frozenset({"time", "at"})

AGGREGATES: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("count", "aggregate", "count() | count(*) | count(x) | count(dataset.*)",
                     "Rows, or rows where x is not null.", 0, 1, _AGG_NAMED),
        FunctionSpec("count_distinct", "aggregate", "count_distinct(x)", "Distinct non-null values of x.", 1, 1, _AGG_NAMED),
        FunctionSpec("sum", "aggregate", "sum(x)", "Sum of x; 0 over no rows.", 1, 1, _AGG_NAMED),
        FunctionSpec("avg", "aggregate", "avg(x)", "Average of non-null x.", 1, 1, _AGG_NAMED),
        FunctionSpec("min", "aggregate", "min(x)", "Smallest x.", 1, 1, _AGG_NAMED),
        FunctionSpec("max", "aggregate", "max(x)", "Largest x.", 1, 1, _AGG_NAMED),
        FunctionSpec("median", "aggregate", "median(x)", "Continuous median of x.", 1, 1, _AGG_NAMED),
        FunctionSpec("percentile", "aggregate", "percentile(x, p)",
                     "Continuous percentile p (0 <= p <= 1) of x, interpolated.", 2, 2, _AGG_NAMED),
    )
}

WINDOWS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("previous", "window", "previous(x) | previous(x, n) | previous(x, n, unit)",
                     "x in the period n (default 1) periods earlier; with a unit (day, week, month, quarter, "
                     "year), in the period holding the day n units before the period's first day.", 1, 3),
        FunctionSpec("growth", "window", "growth(x) | growth(x, n) | growth(x, n, unit)",
                     "(x - previous(x, ...)) / previous(x, ...).", 1, 3),
        FunctionSpec("rolling", "window", "rolling(x, n)",
                     "x over the rows of the last n periods, the current one included.", 2, 2),
        FunctionSpec("to_date", "window", "to_date(x, grain)",
                     "x over the rows from the start of the enclosing week, month, quarter or year.", 2, 2),
        FunctionSpec("cumulative", "window", "cumulative(x)", "x over every row up to the end of the period.", 1, 1),
        FunctionSpec("total", "window", "total(x)", "x without the query's by dimensions.", 1, 1),
        FunctionSpec("period_days", "period", "period_days()",
                     "The number of calendar days in the period (28 to 31 for a month), for per-day rates.", 0, 0),
    )
}

ROW_FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        _row("coalesce", "coalesce(a, b, ...)", "The first non-null argument.", 1, None,
             lambda d, a: _exp().Coalesce(this=a[0], expressions=list(a[1:]))),
        _row("nullif", "nullif(a, b)", "Null when a = b, else a.", 2, 2, lambda d, a: _exp().Nullif(this=a[0], expression=a[1])),
        _row("if", "if(condition, then, else)", "then when condition is true, else otherwise.", 3, 3,
             lambda d, a: _exp().Case(ifs=[_exp().If(this=a[0], true=a[1])], default=a[2])),
        _row("abs", "abs(x)", "Absolute value.", 1, 1, lambda d, a: _exp().Abs(this=a[0])),
        _row("round", "round(x) | round(x, digits)",
             "x as a double, rounded half away from zero to digits (default 0, -15 to 15) decimals.", 1, 2,
             lambda d, a: d.round(a[0], a[1] if len(a) > 1 else None), _round_digits, copies=18),
        _row("floor", "floor(x)", "Largest integer <= x.", 1, 1, lambda d, a: _exp().Floor(this=a[0])),
        _row("ceil", "ceil(x)", "Smallest integer >= x.", 1, 1, lambda d, a: _exp().Ceil(this=a[0])),
        _row("least", "least(a, b, ...)", "Smallest argument; null if any is null.", 1, None,
             lambda d, a: d.least(a), copies=2),
        _row("greatest", "greatest(a, b, ...)", "Largest argument; null if any is null.", 1, None,
             lambda d, a: d.greatest(a), copies=2),
        _row("lower", "lower(s)", "Lower-case text.", 1, 1, lambda d, a: _exp().Lower(this=a[0])),
        _row("upper", "upper(s)", "Upper-case text.", 1, 1, lambda d, a: _exp().Upper(this=a[0])),
        _row("length", "length(s)", "Number of characters.", 1, 1, lambda d, a: _exp().Length(this=a[0])),
        _row("date", "date(ts)", "The date of a timestamp.", 1, 1, lambda d, a: d.date(a[0]), time_args="local"),
        _row("year", "year(ts)", "Year number.", 1, 1, lambda d, a: d.year(a[0]), time_args="local"),
        _row("month", "month(ts)", "Month number, 1-12.", 1, 1, lambda d, a: d.month(a[0]), time_args="local"),
        _row("day_of_week", "day_of_week(ts)", "ISO weekday: 1 = Monday ... 7 = Sunday.", 1, 1,
             lambda d, a: d.day_of_week(a[0]), time_args="local"),
        _row("hour", "hour(ts)", "Hour of the day, 0-23.", 1, 1, lambda d, a: d.hour(a[0]), time_args="local"),
        _row("seconds_between", "seconds_between(a, b)", "b - a in seconds.", 2, 2,
             lambda d, a: d.seconds_between(a[0], a[1]), time_args="instant"),
        _row("minutes_between", "minutes_between(a, b)", "b - a in minutes, fractional.", 2, 2,
             lambda d, a: d.seconds_between(a[0], a[1], per=60), time_args="instant"),
        _row("hours_between", "hours_between(a, b)", "b - a in hours, fractional.", 2, 2,
             lambda d, a: d.seconds_between(a[0], a[1], per=3600), time_args="instant"),
        _row("days_between", "days_between(a, b)", "b - a in days, fractional.", 2, 2,
             lambda d, a: d.seconds_between(a[0], a[1], per=86400), time_args="instant"),
    )
}

BUILTIN_FUNCTIONS: dict[str, FunctionSpec] = {**AGGREGATES, **WINDOWS, **ROW_FUNCTIONS}
