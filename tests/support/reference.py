"""A plain-Python reference implementation of KPI queries (SPEC §3-§5).

The test-suite checks the SQL engine's numbers against this module. It is
written straight from the specification and shares nothing with the engine
but the YAML loader and the formula parser: no binder, no compiler, no SQL.
It is meant to be obviously correct, not fast: every aggregate value of every
period and every combination of dimension values is recomputed by looping
over the rows of its dataset.

How a query is answered (:func:`evaluate`):

1. Every KPI formula is walked once, following references to other KPIs, to
   validate it (windows, grains, cycles) and to list the aggregates it uses.
2. The reported periods run from ``start`` (or the earliest period of any row
   read by any of those aggregates) to ``end`` (or the latest).
3. With ``by``, the combinations of dimension values are those of the rows
   read by the aggregates outside ``total()`` within the reported periods.
4. Each KPI is evaluated for every (period, combination): the formula is
   interpreted with SQL's three-valued logic; each aggregate selects its rows
   (KPI filter, query ``where``, its own ``where``, its period or window,
   the combination) and aggregates them.

Values: integral literals are ``int``, other literals ``Decimal`` (exact
arithmetic on literals); ``/`` is true division (``Decimal`` unless a float
is involved); results are converted at the end: ``Decimal`` → ``float``,
dates → ISO strings.

Time (SPEC §5.1) is read the way the specification words it, with nothing but
``zoneinfo``: every timestamp becomes an *instant* (an aware UTC datetime) as
soon as a row is read — a naive one in its dataset's ``timezone`` (fold=0:
a time in a DST gap takes the offset before the gap, one in a repeated hour
its first occurrence), an aware one as it is — while a ``date`` stays a
calendar date. A :class:`Calendar` (zone, week start, fiscal year) turns an
instant into the local wall time that periods, ``from``/``to`` and the row
functions see, and a local day into its first instant (local midnight, which
is the first instant after a gap when midnight is skipped). Instants are kept
in UTC because Python compares and subtracts two datetimes that share one
``tzinfo`` by their wall times, which would be wrong across a DST change.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from kpi_engine.formulas.syntax import (
    Between,
    Binary,
    Boolean,
    Call,
    FormulaText,
    InList,
    IsNull,
    Like,
    Negate,
    Node,
    Not,
    Null,
    Number,
    Ref,
    Star,
    String,
)
from kpi_engine.definitions.loader import load_yaml_file
from kpi_engine.formulas.parser import parse_formula

__all__ = ["evaluate", "load_definitions", "refusal"]

GRAINS = ("day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year", "all")
#: Units of ``previous(x, n, unit)`` / ``growth(x, n, unit)``.
UNITS = ("day", "week", "month", "quarter", "year")
#: How coarse a grain or unit is: a unit finer than the query's grain is an error (SPEC §4.2).
_SIZE = {"day": 0, "week": 1, "month": 2, "quarter": 3, "fiscal_quarter": 3, "year": 4, "fiscal_year": 4}
#: Month-made grains as (months per period, month of the year the periods count from - 1).
_MONTH_GRAINS = {"month": (1, 0), "quarter": (3, 0), "year": (12, 0)}
#: ``week_start`` → its ``date.weekday()``.
WEEK_STARTS = {"monday": 0, "sunday": 6, "saturday": 5}
AGGREGATES = frozenset(
    {"count", "count_distinct", "sum", "avg", "min", "max", "median", "percentile"}
)
WINDOWS = frozenset({"previous", "growth", "rolling", "to_date", "cumulative", "total"})
#: Functions of the top level of a formula that read no rows.
TOP_FUNCTIONS = frozenset({"period_days"})
ROW_FUNCTIONS = frozenset({
    "coalesce", "nullif", "if", "abs", "round", "floor", "ceil", "least", "greatest", "lower",
    "upper", "length", "date", "year", "month", "day_of_week", "hour", "seconds_between",
    "minutes_between", "hours_between", "days_between",
})
#: Windows that widen the rows an aggregate reads; two of them never nest.
RANGE_WINDOWS = frozenset({"rolling", "to_date", "cumulative"})
#: The groups ``to_date(x, group)`` takes (it needs each query period inside one group: Calendar.nests).
TO_DATE_GROUPS = ("week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year")
_WINDOW_ARITY = {
    "previous": (1, 3),
    "growth": (1, 3),
    "rolling": (2, 2),
    "to_date": (2, 2),
    "cumulative": (1, 1),
    "total": (1, 1),
}
_AGG_ARITY = {
    "count": (0, 1),
    "count_distinct": (1, 1),
    "sum": (1, 1),
    "avg": (1, 1),
    "min": (1, 1),
    "max": (1, 1),
    "median": (1, 1),
    "percentile": (2, 2),
}

Row = dict[str, Any]
Combo = tuple[Any, ...]


# ---------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------


def load_definitions(paths: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """Read definition files (or folders of ``*.yml``/``*.yaml``) into plain dicts.

    Returns ``{"datasets": {name: body}, "kpis": {name: body}}``; every scalar
    stays the string written in the file. A name defined twice is a ValueError.
    """
    out: dict[str, dict[str, Any]] = {"datasets": {}, "kpis": {}}
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")))
        else:
            files.append(path)
    for file in files:
        data = load_yaml_file(file).data or {}
        for section in ("datasets", "kpis"):
            for name, body in (data.get(section) or {}).items():
                if name in out[section]:
                    raise ValueError(f"{section[:-1]} '{name}' is defined twice")
                out[section][name] = body
    return out


@functools.cache
def parse(text: str) -> Node:
    """Parse a formula, filter, dimension or ``where`` text (cached by text)."""
    return parse_formula(FormulaText.standalone(text, "x"))


# ---------------------------------------------------------------------------
# Time and periods
# ---------------------------------------------------------------------------


@functools.cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


_UTC = dt.timezone.utc
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_time_text(text: str) -> dt.date | dt.datetime:
    """Time text as SQLite holds it (SPEC §5.1): ``YYYY-MM-DD`` is a calendar date; text ending
    in an offset (``+HH:MM``, ``-HH:MM``, ``Z``) an instant (an aware datetime); other text a
    naive time."""
    text = text.strip()
    if _DATE_TEXT.fullmatch(text):
        return dt.date.fromisoformat(text)
    return dt.datetime.fromisoformat(text)


def to_datetime(value: Any) -> dt.datetime | None:
    """A time value as a datetime (a date is its naive midnight; text is parsed, offset kept)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_time_text(value)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise ValueError(f"not a time value: {value!r}")


def _as_date(value: dt.date | str | None) -> dt.date | None:
    """A query bound: a date (a datetime or an ISO string is accepted too)."""
    if value is None:
        return None
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value.date() if isinstance(value, dt.datetime) else value


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def _add_months(day: dt.date, months: int) -> dt.date:
    """First-of-month arithmetic: ``day`` must be the first day of its month."""
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def months_back(day: dt.date, months: int) -> dt.date:
    """``day`` moved ``months`` months back; the month's last day when that day does not exist
    (2024-03-31 one month back is 2024-02-29)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


def units_back(day: dt.date, n: int, unit: str) -> dt.date:
    """The day ``n`` ``unit``s before ``day`` (``previous(x, n, unit)``, SPEC §5.1)."""
    if unit == "day":
        return day - dt.timedelta(days=n)
    if unit == "week":
        return day - dt.timedelta(days=7 * n)
    return months_back(day, n * {"month": 1, "quarter": 3, "year": 12}[unit])


@dataclass(frozen=True)
class Calendar:
    """How periods are cut (kpi.yml's ``calendar:``, the query's ``timezone`` winning).

    Periods are runs of local days of ``timezone``; a week starts on ``week_start``; fiscal
    quarters and years count months from ``fiscal_year_start`` and a fiscal year is named by
    (its ``period`` is the first day of) the month it starts in.
    """

    timezone: str = "UTC"
    week_start: str = "monday"
    fiscal_year_start: int = 1

    @classmethod
    def of(cls, config: dict[str, Any] | None, timezone: str | None = None) -> Calendar:
        config = dict(config or {})
        unknown_keys = set(config) - {"timezone", "week_start", "fiscal_year_start"}
        if unknown_keys:
            raise ValueError(f"unknown calendar setting(s): {sorted(unknown_keys)}")
        calendar = cls(str(config.get("timezone") or "UTC"), str(config.get("week_start") or "monday"),
                       int(config.get("fiscal_year_start") or 1))
        if calendar.week_start not in WEEK_STARTS:
            raise ValueError(f"week_start must be one of {sorted(WEEK_STARTS)}")
        if not 1 <= calendar.fiscal_year_start <= 12:
            raise ValueError("fiscal_year_start must be a month, 1 to 12")
        zone(calendar.timezone)  # an unknown zone raises here
        if timezone is not None:
            zone(timezone)
            calendar = replace(calendar, timezone=timezone)
        return calendar

    # -- instants and local time ---------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    def day_start(self, day: dt.date) -> dt.datetime:
        """The first instant of local day ``day`` (UTC-aware).

        Local midnight read with fold=0: in a repeated hour that is its first occurrence; when
        midnight is skipped (Sao Paulo's DST began at 00:00) the offset before the gap gives the
        instant of the change itself, i.e. the first instant that is on ``day`` locally.
        """
        first = dt.datetime(day.year, day.month, day.day, tzinfo=self.zone).astimezone(_UTC)
        if self.wall(first).date() != day or self.wall(first - dt.timedelta(microseconds=1)).date() >= day:
            raise AssertionError(f"no clean local midnight for {day} in {self.timezone}")  # no such zone in tests
        return first

    def wall(self, instant: dt.datetime) -> dt.datetime:
        """The naive wall time of this calendar's zone at ``instant``."""
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def local_day(self, value: dt.date | dt.datetime) -> dt.date:
        """The local day of an instant; a calendar date is its own day (never shifted)."""
        return value if not isinstance(value, dt.datetime) else self.wall(value).date()

    # -- periods ---------------------------------------------------------------------

    def period_start(self, day: dt.date, grain: str) -> dt.date:
        """The first day of the ``grain`` period holding local day ``day``."""
        if isinstance(day, dt.datetime):
            day = self.local_day(day)
        if grain == "day":
            return day
        if grain == "week":
            return day - dt.timedelta(days=(day.weekday() - WEEK_STARTS[self.week_start]) % 7)
        length, offset = self.month_grain(grain)
        month = day.year * 12 + day.month - 1
        first = (month - offset) // length * length + offset
        return dt.date(first // 12, first % 12 + 1, 1)

    def shift(self, start: dt.date, n: int, grain: str) -> dt.date:
        """The period ``n`` periods after the one starting on ``start`` (``n`` may be negative)."""
        if grain == "day":
            return start + dt.timedelta(days=n)
        if grain == "week":
            return start + dt.timedelta(days=7 * n)
        return _add_months(start, self.month_grain(grain)[0] * n)

    def month_grain(self, grain: str) -> tuple[int, int]:
        """(months per period, first month - 1 periods are counted from) of a month-made grain."""
        if grain in _MONTH_GRAINS:
            return _MONTH_GRAINS[grain]
        if grain in ("fiscal_quarter", "fiscal_year"):
            return (3 if grain == "fiscal_quarter" else 12), self.fiscal_year_start - 1
        raise ValueError(f"unknown grain {grain!r}")

    def nests(self, grain: str, group: str) -> bool:
        """Whether every period of ``grain`` lies inside one ``group`` (``to_date(x, group)``)."""
        if grain == "day" or grain == group:
            return True
        if "week" in (grain, group):
            return False
        (length, offset), (group_length, group_offset) = self.month_grain(grain), self.month_grain(group)
        return group_length % length == 0 and (offset - group_offset) % length == 0


UTC_CALENDAR = Calendar()


@dataclass(frozen=True)
class Clock:
    """How the time values of one dataset are read in one calendar (SPEC §5.1)."""

    data_zone: str = "UTC"
    calendar: Calendar = UTC_CALENDAR

    def read(self, value: Any) -> dt.date | dt.datetime | None:
        """A calendar date (``date``, never shifted) or an instant (UTC-aware ``datetime``).

        A naive datetime (or naive text) is a wall time of the dataset's zone, read with fold=0:
        in a DST gap the offset before the gap, in a repeated hour its first occurrence.
        """
        if value is None:
            return None
        if isinstance(value, str):
            value = parse_time_text(value)
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=zone(self.data_zone), fold=0)
            return value.astimezone(_UTC)
        if isinstance(value, dt.date):
            return value
        raise ValueError(f"not a time value: {value!r}")

    def instant(self, value: Any) -> dt.datetime | None:
        """A time value as an instant: a calendar date is its local midnight."""
        value = self.read(value)
        if value is None or isinstance(value, dt.datetime):
            return value
        return self.calendar.day_start(value)

    def wall(self, value: Any) -> dt.datetime | None:
        """What the row functions see: the local wall time (a date is its midnight)."""
        value = self.read(value)
        if value is None:
            return None
        return self.calendar.wall(value) if isinstance(value, dt.datetime) else midnight(value)


UTC_CLOCK = Clock()


# ---------------------------------------------------------------------------
# Values: SQL semantics in Python
# ---------------------------------------------------------------------------


def _literal(value: Decimal) -> int | Decimal:
    """An integral literal written without a decimal point is an int; others stay Decimal."""
    return int(value) if value.as_tuple().exponent >= 0 else value


def _aware(value: Any) -> bool:
    return isinstance(value, dt.datetime) and value.tzinfo is not None


def _comparable(a: Any, b: Any, calendar: Calendar = UTC_CALENDAR) -> tuple[Any, Any]:
    """Make dates, datetimes and ISO strings comparable with each other.

    Against an instant (a row's timestamp), a date, naive datetime or text is a local wall time
    of the calendar's zone (a date its local midnight).
    """
    if _aware(a) or _aware(b):
        a, b = (_literal_instant(a, calendar), _literal_instant(b, calendar))
        return a, b
    a_time = isinstance(a, dt.date)
    b_time = isinstance(b, dt.date)
    if a_time or b_time:
        if a_time and isinstance(b, str):
            b = dt.datetime.fromisoformat(b)
        elif b_time and isinstance(a, str):
            a = dt.datetime.fromisoformat(a)
        if isinstance(a, dt.date) and isinstance(b, dt.date):
            a, b = to_datetime(a), to_datetime(b)
    return a, b


def _literal_instant(value: Any, calendar: Calendar) -> Any:
    """A value compared with an instant: wall times and dates of the calendar's zone become instants."""
    if isinstance(value, str):
        value = parse_time_text(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=calendar.zone).astimezone(_UTC)
    if isinstance(value, dt.date):
        return calendar.day_start(value)
    return value


def compare(op: str, a: Any, b: Any, calendar: Calendar = UTC_CALENDAR) -> bool | None:
    """SQL comparison: null when either side is null."""
    if a is None or b is None:
        return None
    a, b = _comparable(a, b, calendar)
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    raise ValueError(f"unknown comparison {op!r}")


def arith(op: str, a: Any, b: Any) -> Any:
    """SQL arithmetic: null propagates; ``/`` is true division, null for a 0 or null divisor.

    int op int stays int (except ``/``); int/Decimal mixes are exact Decimals;
    anything with a float is float arithmetic.
    """
    if a is None or b is None:
        return None
    if isinstance(a, bool):
        a = int(a)
    if isinstance(b, bool):
        b = int(b)
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        if op == "/":
            return None if b == 0 else a / b
    elif op == "/":
        return None if b == 0 else Decimal(a) / Decimal(b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return None if b == 0 else a / b
    raise ValueError(f"unknown operator {op!r}")


def logic_and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def logic_or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def logic_not(a: bool | None) -> bool | None:
    return None if a is None else not a


def like(value: Any, pattern: str) -> bool | None:
    """SQL LIKE, case-sensitive: ``%`` any run of characters, ``_`` one character."""
    if value is None:
        return None
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, str(value), flags=re.DOTALL) is not None


def _round(value: Any, digits: int) -> Any:
    """The value as a binary double, rounded half away from zero (Decimal(float) is its exact value)."""
    if value is None:
        return None
    exponent = Decimal(1).scaleb(-digits)
    return float(Decimal(float(value)).quantize(exponent, rounding=ROUND_HALF_UP))


def _floor_ceil(value: Any, rounding: str) -> Any:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return float(math.floor(value) if rounding == ROUND_FLOOR else math.ceil(value))
    return Decimal(value).to_integral_value(rounding=rounding)


def _least_greatest(values: list[Any], op: str, calendar: Calendar = UTC_CALENDAR) -> Any:
    """least (op '<') or greatest (op '>'): null if any value is null."""
    if any(v is None for v in values):
        return None
    best = values[0]
    for v in values[1:]:
        if compare(op, v, best, calendar):
            best = v
    return best


def _seconds_between(a: Any, b: Any, per: int, clock: Clock) -> float | None:
    """b - a in seconds / ``per``: real elapsed time between instants, also across a DST change.

    Two calendar dates are whole days apart; a date against an instant is its local midnight.
    """
    a, b = clock.read(a), clock.read(b)
    if a is None or b is None:
        return None
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        a, b = clock.instant(a), clock.instant(b)
    seconds = (b - a).total_seconds() if isinstance(a, dt.datetime) else (b - a).days * 86400
    return seconds / per


def _time_part(value: Any, part: Callable[[dt.datetime], Any], clock: Clock) -> Any:
    """A part of the local wall time (the calendar's zone) of a time value."""
    wall = clock.wall(value)
    return None if wall is None else part(wall)


def to_result(value: Any, calendar: Calendar = UTC_CALENDAR) -> Any:
    """A value as the engine returns it: Decimal → float, dates → ISO strings, instants as local
    wall times of the calendar's zone."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (Decimal, Fraction)):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = calendar.wall(value)
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# ---------------------------------------------------------------------------
# Expression evaluation, shared by rows and the top level of formulas
# ---------------------------------------------------------------------------


class Env:
    """What names and calls mean where an expression is evaluated."""

    #: how time values are read here (a row's dataset zone and the query's calendar)
    clock: Clock = UTC_CLOCK

    def ref(self, node: Ref) -> Any:
        raise ValueError(f"'{node.dotted}' is not allowed here")

    def star(self, node: Star) -> Any:
        raise ValueError("'*' is only allowed as the argument of count()")

    def call(self, node: Call) -> Any:
        """An aggregate or window call; row functions are handled by :func:`eval_expr`."""
        raise ValueError(f"{node.name}() is not allowed here")


def eval_expr(node: Node, env: Env) -> Any:
    """Evaluate a formula node with SQL semantics; names and aggregates go through ``env``."""
    if isinstance(node, Number):
        return _literal(node.value)
    if isinstance(node, String):
        return node.value
    if isinstance(node, Boolean):
        return node.value
    if isinstance(node, Null):
        return None
    if isinstance(node, Ref):
        return env.ref(node)
    if isinstance(node, Star):
        return env.star(node)
    if isinstance(node, Negate):
        v = eval_expr(node.operand, env)
        return None if v is None else -v
    if isinstance(node, Not):
        return logic_not(eval_expr(node.operand, env))
    if isinstance(node, Binary):
        if node.op == "and":
            return logic_and(eval_expr(node.left, env), eval_expr(node.right, env))
        if node.op == "or":
            return logic_or(eval_expr(node.left, env), eval_expr(node.right, env))
        left, right = eval_expr(node.left, env), eval_expr(node.right, env)
        if node.op in ("+", "-", "*", "/"):
            return arith(node.op, left, right)
        return compare(node.op, left, right, env.clock.calendar)
    if isinstance(node, IsNull):
        v = eval_expr(node.operand, env)
        return (v is not None) if node.negated else (v is None)
    if isinstance(node, InList):
        v = eval_expr(node.operand, env)
        result: bool | None = False
        for item in node.items:
            result = logic_or(result, compare("=", v, eval_expr(item, env), env.clock.calendar))
        return logic_not(result) if node.negated else result
    if isinstance(node, Between):
        v = eval_expr(node.operand, env)
        low, high = eval_expr(node.low, env), eval_expr(node.high, env)
        result = logic_and(compare(">=", v, low, env.clock.calendar), compare("<=", v, high, env.clock.calendar))
        return logic_not(result) if node.negated else result
    if isinstance(node, Like):
        result = like(eval_expr(node.operand, env), node.pattern)
        return logic_not(result) if node.negated else result
    if isinstance(node, Call):
        if node.name in AGGREGATES or node.name in WINDOWS or node.name in TOP_FUNCTIONS:
            return env.call(node)
        return _row_function(node, env)
    raise ValueError(f"unsupported formula node {type(node).__name__}")


def _row_function(node: Call, env: Env) -> Any:
    """The row-level functions of SPEC §4.3."""
    name = node.name
    if node.named or node.where is not None:
        raise ValueError(f"{name}() takes neither named arguments nor 'where'")

    def arg(i: int) -> Any:
        return eval_expr(node.args[i], env)

    def arity(lo: int, hi: int | None) -> None:
        if len(node.args) < lo or (hi is not None and len(node.args) > hi):
            raise ValueError(f"wrong number of arguments to {name}()")

    if name == "coalesce":
        arity(1, None)
        for i in range(len(node.args)):
            v = arg(i)
            if v is not None:
                return v
        return None
    if name == "nullif":
        arity(2, 2)
        a, b = arg(0), arg(1)
        return None if compare("=", a, b, env.clock.calendar) is True else a
    if name == "if":
        arity(3, 3)
        return arg(1) if arg(0) is True else arg(2)
    if name == "abs":
        arity(1, 1)
        v = arg(0)
        return None if v is None else abs(v)
    if name == "round":
        arity(1, 2)
        digits = arg(1) if len(node.args) == 2 else 0
        return None if digits is None else _round(arg(0), int(digits))
    if name == "floor":
        arity(1, 1)
        return _floor_ceil(arg(0), ROUND_FLOOR)
    if name == "ceil":
        arity(1, 1)
        return _floor_ceil(arg(0), ROUND_CEILING)
    if name in ("least", "greatest"):
        arity(1, None)
        values = [arg(i) for i in range(len(node.args))]
        return _least_greatest(values, "<" if name == "least" else ">", env.clock.calendar)
    if name in ("lower", "upper", "length"):
        arity(1, 1)
        v = arg(0)
        if v is None:
            return None
        return {"lower": str.lower, "upper": str.upper, "length": len}[name](str(v))
    if name == "date":
        arity(1, 1)
        return _time_part(arg(0), lambda t: t.date(), env.clock)
    if name == "year":
        arity(1, 1)
        return _time_part(arg(0), lambda t: t.year, env.clock)
    if name == "month":
        arity(1, 1)
        return _time_part(arg(0), lambda t: t.month, env.clock)
    if name == "day_of_week":
        arity(1, 1)
        return _time_part(arg(0), lambda t: t.isoweekday(), env.clock)
    if name == "hour":
        arity(1, 1)
        return _time_part(arg(0), lambda t: t.hour, env.clock)
    per = {"seconds_between": 1, "minutes_between": 60, "hours_between": 3600, "days_between": 86400}
    if name in per:
        arity(2, 2)
        return _seconds_between(arg(0), arg(1), per[name], env.clock)
    raise ValueError(f"unknown function {name}()")


def passes(node: Node | None, env: Env) -> bool:
    """A row passes a condition only when it is true (not false, not null)."""
    return node is None or eval_expr(node, env) is True


# ---------------------------------------------------------------------------
# Aggregation of selected values
# ---------------------------------------------------------------------------


def _exact(value: Any) -> Fraction:
    if isinstance(value, bool):
        return Fraction(int(value))
    if isinstance(value, (int, float, Decimal, Fraction)):
        return Fraction(value)
    raise ValueError(f"not a number: {value!r}")


def aggregate(func: str, values: list[Any], p: Fraction | None = None) -> Any:
    """Apply one aggregate (SPEC §4.1) to its argument's values on the selected rows.

    ``values`` holds the argument of every selected row, nulls included
    (``count()`` of rows is simply the number of rows and never comes here).
    """
    present = [v for v in values if v is not None]
    if func == "count":
        return len(present)
    if func == "count_distinct":
        return len(set(present))
    if func == "sum":
        if not present:
            return 0
        if any(isinstance(v, float) for v in present):
            return float(sum(_exact(v) for v in present))
        if any(isinstance(v, Decimal) for v in present):
            return sum((Decimal(int(v)) if isinstance(v, bool) else Decimal(v) for v in present), Decimal(0))
        return sum(int(v) for v in present)
    if not present:
        return None
    if func == "avg":
        return float(sum(_exact(v) for v in present) / len(present))
    if func in ("min", "max"):
        return _least_greatest(present, "<" if func == "min" else ">")
    if func in ("median", "percentile"):
        fraction = Fraction(1, 2) if func == "median" else p
        ordered = sorted(_exact(v) for v in present)
        h = (len(ordered) - 1) * fraction
        k = math.floor(h)
        low = ordered[k]
        high = ordered[k + 1] if k + 1 < len(ordered) else low
        return float(low + (h - k) * (high - low))
    raise ValueError(f"unknown aggregate {func}()")


# ---------------------------------------------------------------------------
# Datasets: rows with their joins, row-level environments
# ---------------------------------------------------------------------------


@dataclass
class Dataset:
    """A dataset's definition and rows, with each row's joined rows resolved."""

    name: str
    body: dict[str, Any]
    rows: list[Row]
    columns: set[str]
    #: how this dataset's time values are read (its ``timezone``, the query's calendar)
    clock: Clock = UTC_CLOCK
    #: alias → (joined dataset name, joined row of each row of ``rows``, its columns, its clock)
    joins: dict[str, tuple[str, list[Row | None], set[str], Clock]] = field(default_factory=dict)
    dimensions: dict[str, Node] = field(default_factory=dict)

    @property
    def time(self) -> str | None:
        return self.body.get("time")

    @property
    def active(self) -> tuple[str, str | None] | None:
        active = self.body.get("active")
        if not active:
            return None
        if not active.get("from"):
            raise ValueError(f"dataset '{self.name}': 'active' needs 'from'")
        return active["from"], active.get("to")


class RowEnv(Env):
    """Names inside an aggregate, a dimension or a filter: columns of one row.

    A timestamp column's value is read as an instant (naive ones in the zone of the dataset
    they come from, a join's own); dates and everything else are returned as they are.
    """

    def __init__(self, dataset: Dataset, index: int) -> None:
        self.dataset = dataset
        self.index = index
        self.clock = dataset.clock

    def ref(self, node: Ref) -> Any:
        ds = self.dataset
        if node.qualifier is None or node.qualifier == ds.name and node.qualifier not in ds.joins:
            return self.column(node.name)
        if node.qualifier in ds.joins:
            joined_name, joined_rows, columns, clock = ds.joins[node.qualifier]
            if columns and node.name not in columns:
                raise ValueError(f"unknown column '{node.name}' in dataset '{joined_name}'")
            joined = joined_rows[self.index]
            return None if joined is None else _instant_if_timestamp(joined.get(node.name), clock)
        raise ValueError(f"'{node.dotted}': '{node.qualifier}' is not a join of dataset '{ds.name}'")

    def column(self, name: str) -> Any:
        ds = self.dataset
        if ds.columns and name not in ds.columns:
            raise ValueError(f"unknown column '{name}' in dataset '{ds.name}'")
        return _instant_if_timestamp(ds.rows[self.index].get(name), ds.clock)


def _instant_if_timestamp(value: Any, clock: Clock) -> Any:
    """A datetime as the instant it means in its dataset; other values as they are."""
    return clock.read(value) if isinstance(value, dt.datetime) else value


class DimensionEnv(RowEnv):
    """Names in a query ``where``: dimensions of the dataset being read."""

    def ref(self, node: Ref) -> Any:
        if node.qualifier is not None:
            raise ValueError(f"the query 'where' may only name dimensions, not '{node.dotted}'")
        expr = self.dataset.dimensions.get(node.name)
        if expr is None:
            raise ValueError(f"dimension '{node.name}' is not defined on dataset '{self.dataset.name}'")
        return eval_expr(expr, RowEnv(self.dataset, self.index))


# ---------------------------------------------------------------------------
# Aggregates as used by a query
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Where a top-level expression is evaluated.

    ``period`` is the first day of the period (None for grain ``all``);
    ``dims`` the combination of ``by`` values, or None inside ``total()``;
    ``window`` None, ``("rolling", n)``, ``("to_date", grain)`` or ``("cumulative",)``.
    """

    period: dt.date | None
    dims: Combo | None
    window: tuple[Any, ...] | None = None


@dataclass
class Entry:
    """One row of a dataset as an aggregate sees it (after KPI filter and query where).

    Times are instants (UTC-aware; a calendar date is its local midnight); ``day`` is the local
    day that places the row in a period.
    """

    time: dt.datetime | None
    day: dt.date | None  # the local day of ``time`` (a date column's own date)
    start: dt.datetime | None  # active from (stock aggregates)
    end: dt.datetime | None  # active to (stock aggregates)
    dims: Combo | None  # the by-dimension values, None when the dataset lacks one
    inner: bool  # passes the aggregate's own where
    value: Any  # the aggregate's argument on this row

    def ever_active(self) -> bool:
        return self.start is not None and (self.end is None or self.end > self.start)

    def active_at(self, t: dt.datetime) -> bool:
        """In the stock taken just before instant t: from < t <= to (to null: still active)."""
        return self.start is not None and self.start < t and (self.end is None or t <= self.end)


@dataclass
class Aggregate:
    """An aggregate call of one KPI, resolved against its dataset."""

    func: str
    dataset: Dataset
    count_rows: bool
    p: Fraction | None
    time_column: str | None
    at: str | None
    entries: list[Entry]

    def apply(self, selected: list[Entry]) -> Any:
        if self.count_rows:
            return len(selected)
        return aggregate(self.func, [e.value for e in selected], self.p)


@dataclass(frozen=True)
class Use:
    """An aggregate call met while walking the query's formulas."""

    kpi: str
    call: Call
    in_total: bool


class ConstantEnv(Env):
    """Constant arguments (``n`` of rolling, ``p`` of percentile)."""


def _constant(node: Node) -> Any:
    return eval_expr(node, ConstantEnv())


def _int_at_least(node: Node, what: str, minimum: int) -> int:
    value = _constant(node)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}")
    return value


def _grain_name(node: Node, what: str = "to_date() takes a grain name") -> str:
    if isinstance(node, Ref) and node.qualifier is None:
        return node.name.lower()
    if isinstance(node, String):
        return node.value.lower()
    raise ValueError(f"{what}: week, month, quarter or year")


def _unit_name(node: Node, grain: str) -> str:
    """The unit of ``previous(x, n, unit)``: one of UNITS, no finer than the query's grain."""
    unit = _grain_name(node, "previous() takes a unit")
    if unit not in UNITS:
        raise ValueError(f"unknown unit '{unit}': choose from {', '.join(UNITS)}")
    if grain != "all" and _SIZE[unit] < _SIZE[grain]:
        raise ValueError(f"unit '{unit}' is finer than the grain '{grain}'")
    return unit


# ---------------------------------------------------------------------------
# The query
# ---------------------------------------------------------------------------


class Query:
    """One query over ``definitions`` and ``data``; see :func:`evaluate`."""

    def __init__(
        self,
        definitions: dict[str, Any],
        data: dict[str, list[Row]],
        grain: str,
        by: Sequence[str],
        where: str | None,
        start: dt.date | None,
        end: dt.date | None,
        calendar: Calendar = UTC_CALENDAR,
    ) -> None:
        if grain not in GRAINS:
            raise ValueError(f"unknown grain {grain!r}")
        self.calendar = calendar
        self.dataset_defs: dict[str, dict[str, Any]] = definitions.get("datasets") or {}
        self.kpi_defs: dict[str, dict[str, Any]] = definitions.get("kpis") or {}
        self.data = data
        self.grain = grain
        self.by = (by,) if isinstance(by, str) else tuple(by)
        self.where = parse(where) if where else None
        self.start = _as_date(start)
        self.end = _as_date(end)
        self._datasets: dict[str, Dataset] = {}
        self._aggregates: dict[tuple[str, Call], Aggregate] = {}

    # -- definitions ------------------------------------------------------------

    def kpi_formula(self, name: str) -> Node:
        if name not in self.kpi_defs:
            raise ValueError(f"unknown KPI '{name}'")
        return parse(self.kpi_defs[name]["formula"])

    def kpi_dataset(self, name: str) -> str | None:
        return self.kpi_defs[name].get("dataset")

    def dataset(self, name: str) -> Dataset:
        """A dataset with its rows and joins, built once."""
        if name in self._datasets:
            return self._datasets[name]
        if name not in self.dataset_defs:
            raise ValueError(f"unknown dataset '{name}'")
        if name not in self.data:
            raise ValueError(f"no rows given for dataset '{name}'")
        body = self.dataset_defs[name]
        rows = list(self.data[name])
        columns = {key for row in rows for key in row}
        ds = Dataset(name, body, rows, columns, self.clock_of(name))
        for alias, join in (body.get("joins") or {}).items():
            target = join["dataset"]
            if target not in self.dataset_defs or target not in self.data:
                raise ValueError(f"join '{alias}' of '{name}': unknown dataset '{target}'")
            on = join["on"]
            local, remote = (on, on) if isinstance(on, str) else (on[0], on[1])
            target_columns = {key for other in self.data[target] for key in other}
            if (columns and local not in columns) or (target_columns and remote not in target_columns):
                raise ValueError(f"join '{alias}' of '{name}': unknown column in on: {on!r}")
            index: dict[Any, list[Row]] = {}
            for other in self.data[target]:
                if other.get(remote) is not None:
                    index.setdefault(other[remote], []).append(other)
            matched: list[Row | None] = []
            for row in rows:
                hits = [] if row.get(local) is None else index.get(row[local], [])
                if len(hits) > 1:
                    raise ValueError(f"join '{alias}' of '{name}' is not many-to-one ({row[local]!r})")
                matched.append(hits[0] if hits else None)
            ds.joins[alias] = (target, matched, target_columns, self.clock_of(target))
        for dim, text in (body.get("dimensions") or {}).items():
            ds.dimensions[dim] = parse(text)
        self._datasets[name] = ds
        return ds

    def clock_of(self, name: str) -> Clock:
        """How dataset ``name``'s times are read: naive ones in its ``timezone`` (default UTC)."""
        data_zone = str(self.dataset_defs[name].get("timezone") or "UTC")
        zone(data_zone)  # an unknown zone raises here
        return Clock(data_zone, self.calendar)

    # -- walking formulas: validation and the list of aggregates ----------------

    def walk_kpi(self, name: str, path: tuple[str, ...], windows: tuple[str, ...],
                 in_total: bool, uses: list[Use]) -> None:
        """Validate KPI ``name`` (reached through ``path``) and list its aggregates."""
        if name in path:
            cycle = path[path.index(name):] + (name,)
            raise ValueError("cycle between KPIs: " + " -> ".join(cycle))
        self.walk(self.kpi_formula(name), name, path + (name,), windows, in_total, uses)

    def walk(self, node: Node, kpi: str, path: tuple[str, ...], windows: tuple[str, ...],
             in_total: bool, uses: list[Use]) -> None:
        """Check the top level of a formula; ``windows`` are the enclosing window calls."""
        if isinstance(node, Ref):
            if node.qualifier is not None:
                raise ValueError(f"column '{node.dotted}' outside an aggregate")
            if node.name not in self.kpi_defs:
                raise ValueError(f"'{node.name}' is not a KPI (a bare column outside an aggregate?)")
            self.walk_kpi(node.name, path, windows, in_total, uses)
            return
        if isinstance(node, Star):
            raise ValueError("'*' outside an aggregate")
        if isinstance(node, Call) and node.name in AGGREGATES:
            self.check_aggregate(node, kpi, windows)
            uses.append(Use(kpi, node, in_total))
            return
        if isinstance(node, Call) and node.name in WINDOWS:
            lo, hi = _WINDOW_ARITY[node.name]
            if not lo <= len(node.args) <= hi or node.named or node.where is not None:
                raise ValueError(f"wrong arguments to {node.name}()")
            if self.grain == "all" and node.name != "total":  # total() needs no period
                raise ValueError(f"{node.name}() needs a grain other than 'all'")
            if node.name in RANGE_WINDOWS and any(w in RANGE_WINDOWS for w in windows):
                outer = next(w for w in windows if w in RANGE_WINDOWS)
                raise ValueError(f"{node.name}() cannot be nested in {outer}()")
            if node.name in ("previous", "growth") and len(node.args) >= 2:
                _int_at_least(node.args[1], f"{node.name}()'s n", 0)
                if len(node.args) == 3:
                    _unit_name(node.args[2], self.grain)
            if node.name == "rolling":
                _int_at_least(node.args[1], "rolling()'s n", 1)
            if node.name == "to_date":
                g = _grain_name(node.args[1])
                if g not in TO_DATE_GROUPS or not self.calendar.nests(self.grain, g):
                    raise ValueError(f"to_date(x, {g}) is not allowed with grain '{self.grain}'")
            self.walk(node.args[0], kpi, path, windows + (node.name,),
                      in_total or node.name == "total", uses)
            return
        if isinstance(node, Call) and node.name in TOP_FUNCTIONS:
            if node.args or node.named or node.where is not None:
                raise ValueError(f"{node.name}() takes no arguments")
            return
        if isinstance(node, Call) and node.name not in ROW_FUNCTIONS:
            raise ValueError(f"unknown function {node.name}()")
        for child in node.children():
            self.walk(child, kpi, path, windows, in_total, uses)

    def check_aggregate(self, call: Call, kpi: str, windows: tuple[str, ...]) -> None:
        lo, hi = _AGG_ARITY[call.name]
        if not lo <= len(call.args) <= hi:
            raise ValueError(f"wrong number of arguments to {call.name}()")
        for named in call.named:
            if named.name not in ("time", "at"):
                raise ValueError(f"{call.name}() has no argument '{named.name}'")
        for i, arg in enumerate(call.args):
            if isinstance(arg, Star) and (call.name != "count" or i != 0):
                raise ValueError("'*' is only allowed as the argument of count()")
        inner = list(call.args) + [n.value for n in call.named] + [call.where]
        for sub in inner:
            if sub is None:
                continue
            stack = [sub]
            while stack:
                n = stack.pop()
                if isinstance(n, Call) and (n.name in AGGREGATES or n.name in WINDOWS or n.name in TOP_FUNCTIONS):
                    raise ValueError(f"{n.name}() inside the aggregate {call.name}()")
                stack.extend(n.children())
        agg = self.resolve(kpi, call)
        if agg.at is not None:
            if self.grain == "all":
                raise ValueError("at= needs a grain other than 'all'")
            ranges = [w for w in windows if w in RANGE_WINDOWS]
            if ranges:
                raise ValueError(f"{ranges[0]}() cannot wrap a stock aggregate (at=)")
        elif self.grain != "all" and agg.time_column is None:
            raise ValueError(f"dataset '{agg.dataset.name}' has no time column: use grain 'all'")

    # -- resolving aggregates ---------------------------------------------------

    def aggregate_dataset(self, kpi: str, call: Call) -> Dataset:
        """The dataset an aggregate reads: a named dataset (not a join alias) or the KPI's."""
        own = self.kpi_dataset(kpi)
        aliases = set((self.dataset_defs.get(own) or {}).get("joins") or {}) if own else set()
        found: set[str] = set()
        nodes = list(call.args) + [n.value for n in call.named] + ([call.where] if call.where else [])
        while nodes:
            n = nodes.pop()
            qualifier = n.qualifier if isinstance(n, (Ref, Star)) else None
            if qualifier and qualifier not in aliases and qualifier in self.dataset_defs:
                found.add(qualifier)
            nodes.extend(n.children())
        if len(found) > 1:
            raise ValueError(f"{call.name}() reads several datasets: {sorted(found)}")
        name = found.pop() if found else own
        if name is None:
            raise ValueError(f"KPI '{kpi}' has no dataset for {call.name}()")
        return self.dataset(name)

    def resolve(self, kpi: str, call: Call) -> Aggregate:
        """An aggregate with every row of its dataset pre-evaluated (cached)."""
        key = (kpi, call)
        if key in self._aggregates:
            return self._aggregates[key]
        ds = self.aggregate_dataset(kpi, call)
        named = {n.name: n.value for n in call.named}
        time_column = ds.time
        if "time" in named:
            ref = named["time"]
            if not isinstance(ref, Ref) or (ref.qualifier not in (None, ds.name)):
                raise ValueError("time= takes a column of the dataset read")
            time_column = ref.name
        at = None
        if "at" in named:
            ref = named["at"]
            at = ref.name.lower() if isinstance(ref, Ref) else ref.value if isinstance(ref, String) else None
            if at not in ("start", "end"):
                raise ValueError("at= takes start or end")
            if ds.active is None:
                raise ValueError(f"at= needs 'active' on dataset '{ds.name}'")
        if time_column is not None and ds.columns and time_column not in ds.columns:
            raise ValueError(f"unknown time column '{time_column}' in dataset '{ds.name}'")
        count_rows = call.name == "count" and (not call.args or isinstance(call.args[0], Star))
        arg = None if count_rows else call.args[0]
        p = None
        if call.name == "percentile":
            value = _constant(call.args[1])
            if value is None or not 0 <= value <= 1:
                raise ValueError("percentile() takes p between 0 and 1")
            p = Fraction(value)
        kpi_filter = self.kpi_defs[kpi].get("filter") if ds.name == self.kpi_dataset(kpi) else None
        kpi_filter_node = parse(kpi_filter) if kpi_filter else None
        has_dims = all(d in ds.dimensions for d in self.by)
        entries = []
        for i in range(len(ds.rows)):
            env = RowEnv(ds, i)
            if not passes(kpi_filter_node, env) or not passes(self.where, DimensionEnv(ds, i)):
                continue
            inner = passes(call.where, env)
            start = end = None
            if ds.active is not None:
                start = ds.clock.instant(env.column(ds.active[0]))
                end = ds.clock.instant(env.column(ds.active[1])) if ds.active[1] else None
            time = ds.clock.read(env.column(time_column)) if time_column else None
            entries.append(Entry(
                time=ds.clock.instant(time),
                day=None if time is None else self.calendar.local_day(time),
                start=start,
                end=end,
                dims=tuple(eval_expr(ds.dimensions[d], env) for d in self.by) if has_dims else None,
                inner=inner,
                value=eval_expr(arg, env) if inner and arg is not None else None,
            ))
        agg = Aggregate(call.name, ds, count_rows, p, time_column, at, entries)
        self._aggregates[key] = agg
        return agg

    # -- periods and combinations -------------------------------------------------

    def data_periods(self, uses: list[Use]) -> set[dt.date]:
        """The periods of the rows read by the query's aggregates (for missing bounds)."""
        return {self.calendar.period_start(day, self.grain) for day in self.data_days(uses)}

    def data_days(self, uses: list[Use]) -> set[dt.date]:
        """The local days of the rows read by the query's aggregates (a stock's start and end days)."""
        days: set[dt.date] = set()
        for use in uses:
            agg = self.resolve(use.kpi, use.call)
            for e in agg.entries:
                if agg.at is not None:
                    if e.ever_active():
                        days.add(self.calendar.local_day(e.start))
                        if e.end is not None:
                            days.add(self.calendar.local_day(e.end))
                elif e.day is not None:
                    days.add(e.day)
        return days

    def reported_periods(self, uses: list[Use]) -> list[dt.date | None]:
        if self.grain == "all":
            return [None]
        lo = self.calendar.period_start(self.start, self.grain) if self.start else None
        hi = self.calendar.period_start(self.end, self.grain) if self.end else None
        if lo is None or hi is None:
            if not uses:
                raise ValueError("a query without aggregates needs both start and end")
            periods = self.data_periods(uses)
            if periods:
                lo = lo or min(periods)
                hi = hi or max(periods)
        out: list[dt.date | None] = []
        if lo is None or hi is None:
            return out
        p = lo
        while p <= hi:
            out.append(p)
            p = self.calendar.shift(p, 1, self.grain)
        return out

    def all_bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """Grain ``all``: rows from the first instant of local day ``start`` to the first of ``end`` + 1 day."""
        lo = self.calendar.day_start(self.start) if self.start else None
        hi = self.calendar.day_start(self.end + dt.timedelta(days=1)) if self.end else None
        return lo, hi

    def all_days(self, uses: list[Use]) -> int | None:
        """``period_days()`` at grain ``all``: the days from ``start`` (else the first local day with
        rows) to ``end`` (else the last), both included; null when a bound is missing and no row is read."""
        days = self.data_days(uses) if self.start is None or self.end is None else set()
        first = self.start or (min(days) if days else None)
        last = self.end or (max(days) if days else None)
        if first is None or last is None:
            return None
        return (last - first).days + 1

    def combos(self, uses: list[Use], periods: list[dt.date | None]) -> list[Combo]:
        """The combinations of by-dimension values read in the reported periods."""
        found: set[Combo] = set()
        if not periods:
            return []
        if self.grain == "all":
            lo, hi = self.all_bounds()
        else:
            lo = self.calendar.day_start(periods[0])
            hi = self.calendar.day_start(self.calendar.shift(periods[-1], 1, self.grain))
        for use in uses:
            if use.in_total:
                continue
            agg = self.resolve(use.kpi, use.call)
            self.require_dims(agg)
            for e in agg.entries:
                if agg.at is not None:
                    # in the stock just before some instant from the first reported period's start up
                    # to the end of the last one: from < t <= to for some t in [lo, hi]
                    ok = (e.start is not None and e.start < hi
                          and (e.end is None or (e.end > e.start and e.end >= lo)))
                else:
                    ok = self.in_range(agg, e, lo, hi)
                if ok:
                    found.add(e.dims)
        return list(found)

    def require_dims(self, agg: Aggregate) -> None:
        missing = [d for d in self.by if d not in agg.dataset.dimensions]
        if missing:
            raise ValueError(f"dimension '{missing[0]}' is not defined on dataset '{agg.dataset.name}'")

    def in_range(self, agg: Aggregate, e: Entry, lo: dt.datetime | None, hi: dt.datetime | None) -> bool:
        """A flow entry's time within [lo, hi); without a time column (grain all) every row."""
        if agg.time_column is None:
            return True
        return e.time is not None and (lo is None or e.time >= lo) and (hi is None or e.time < hi)

    # -- evaluation ---------------------------------------------------------------

    def value(self, kpi: str, ctx: Context) -> Any:
        return eval_expr(self.kpi_formula(kpi), TopEnv(self, kpi, ctx))

    def aggregate_value(self, kpi: str, call: Call, ctx: Context) -> Any:
        """One aggregate over the rows it reads in ``ctx``."""
        agg = self.resolve(kpi, call)
        if ctx.dims is not None and self.by:
            self.require_dims(agg)
        if agg.at is not None:
            if ctx.window is not None:
                raise ValueError(f"{ctx.window[0]}() cannot wrap a stock aggregate (at=)")
            # just before the first instant of the period (at=start) or of the next one (at=end)
            day = ctx.period if agg.at == "start" else self.calendar.shift(ctx.period, 1, self.grain)
            t = self.calendar.day_start(day)

            def selected(e: Entry) -> bool:
                return e.active_at(t)
        else:
            if self.grain == "all":
                lo, hi = self.all_bounds()
            else:
                cal = self.calendar
                hi = cal.day_start(cal.shift(ctx.period, 1, self.grain))
                kind = ctx.window[0] if ctx.window else None
                if kind is None:
                    lo = cal.day_start(ctx.period)
                elif kind == "rolling":
                    lo = cal.day_start(cal.shift(ctx.period, 1 - ctx.window[1], self.grain))
                elif kind == "to_date":
                    lo = cal.day_start(cal.period_start(ctx.period, ctx.window[1]))
                else:  # cumulative
                    lo = None

            def selected(e: Entry) -> bool:
                return self.in_range(agg, e, lo, hi)
        rows = [
            e for e in agg.entries
            if e.inner and selected(e) and (ctx.dims is None or not self.by or e.dims == ctx.dims)
        ]
        return agg.apply(rows)

    def run(self, kpis: Sequence[str]) -> tuple[list[str], list[tuple[Any, ...]]]:
        for d in self.by:
            if not isinstance(d, str):
                raise ValueError("by takes dimension names")
        if self.where is not None:
            self.check_where(self.where)
        uses: list[Use] = []
        for kpi in kpis:
            self.walk_kpi(kpi, (), (), False, uses)
        self.uses = uses
        periods = self.reported_periods(uses)
        combos: list[Combo] = self.combos(uses, periods) if self.by else [()]
        columns = ([] if self.grain == "all" else ["period"]) + list(self.by) + list(kpis)
        out: list[tuple[Any, ...]] = []
        for period in periods:
            for combo in combos:
                ctx = Context(period, combo)
                values = [to_result(self.value(kpi, ctx), self.calendar) for kpi in kpis]
                head = [] if period is None else [period.isoformat()]
                out.append(tuple(head + [to_result(v, self.calendar) for v in combo] + values))
        n_head = (0 if self.grain == "all" else 1)

        def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
            dims = row[n_head:n_head + len(self.by)]
            return tuple(row[:n_head]) + tuple((v is None, v if v is not None else 0) for v in dims)

        out.sort(key=key)
        return columns, out

    def check_where(self, node: Node) -> None:
        """The query where: dimension names only, no aggregates or windows."""
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, Call) and (n.name in AGGREGATES or n.name in WINDOWS):
                raise ValueError("the query 'where' cannot use aggregates or windows")
            if isinstance(n, Ref) and n.qualifier is not None:
                raise ValueError(f"the query 'where' may only name dimensions, not '{n.dotted}'")
            stack.extend(n.children())


class TopEnv(Env):
    """The top level of a KPI formula: aggregates, windows and other KPIs."""

    def __init__(self, query: Query, kpi: str, ctx: Context) -> None:
        self.query = query
        self.kpi = kpi
        self.ctx = ctx
        self.clock = Clock(calendar=query.calendar)

    def ref(self, node: Ref) -> Any:
        if node.qualifier is not None:
            raise ValueError(f"column '{node.dotted}' outside an aggregate")
        return self.query.value(node.name, self.ctx)

    def sub(self, node: Node, ctx: Context) -> Any:
        return eval_expr(node, TopEnv(self.query, self.kpi, ctx))

    def call(self, node: Call) -> Any:
        q, ctx = self.query, self.ctx
        if node.name in AGGREGATES:
            return q.aggregate_value(self.kpi, node, ctx)
        if node.name == "period_days":
            if q.grain == "all":
                return q.all_days(q.uses)
            return (q.calendar.shift(ctx.period, 1, q.grain) - ctx.period).days
        x = node.args[0]
        if node.name in ("previous", "growth"):
            before = self.sub(x, replace(ctx, period=self.earlier(node)))
            if node.name == "previous":
                return before
            return arith("/", arith("-", self.sub(x, ctx), before), before)
        if node.name == "rolling":
            n = _int_at_least(node.args[1], "rolling()'s n", 1)
            return self.sub(x, replace(ctx, window=("rolling", n)))
        if node.name == "to_date":
            return self.sub(x, replace(ctx, window=("to_date", _grain_name(node.args[1]))))
        if node.name == "cumulative":
            return self.sub(x, replace(ctx, window=("cumulative",)))
        if node.name == "total":
            return self.sub(x, replace(ctx, dims=None))
        raise ValueError(f"unknown function {node.name}()")

    def earlier(self, node: Call) -> dt.date:
        """The period ``previous(x[, n[, unit]])`` reads: n periods back, or with a unit the period
        holding the day n units before the current period's first day (SPEC §5.1)."""
        q, period = self.query, self.ctx.period
        n = _int_at_least(node.args[1], f"{node.name}()'s n", 0) if len(node.args) >= 2 else 1
        if len(node.args) < 3:
            return q.calendar.shift(period, -n, q.grain)
        unit = _unit_name(node.args[2], q.grain)
        return q.calendar.period_start(units_back(period, n, unit), q.grain)


def evaluate(
    definitions: dict[str, Any],
    data: dict[str, list[Row]],
    kpis: list[str],
    *,
    grain: str = "month",
    by: Sequence[str] = (),
    where: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    calendar: dict[str, Any] | None = None,
    timezone: str | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Answer a query the slow, obvious way; same columns and rows as the engine.

    ``definitions`` is ``{"datasets": {...}, "kpis": {...}}`` (bodies as in
    SPEC §3); ``data`` maps each dataset name to its rows. Returns
    ``(columns, rows)``: ``period`` (absent for grain ``all``), the ``by``
    dimensions, then one column per KPI; rows ordered by period, then by
    dimension values with nulls last. Invalid queries raise ValueError.

    ``calendar`` is kpi.yml's ``calendar:`` block (``timezone``, ``week_start``,
    ``fiscal_year_start``; default UTC, Monday, January); ``timezone`` the query's
    override of its zone. A dataset body's ``timezone`` is the zone of its naive
    timestamps. Row values may be ``date`` (a calendar date), naive or aware
    ``datetime``, or text as SQLite holds it (offset → instant, none → naive).
    """
    cal = Calendar.of(calendar, timezone)
    return Query(definitions, data, grain, by, where, start, end, cal).run(kpis)


def refusal(
    definitions: dict[str, Any],
    data: dict[str, list[Row]],
    kpi: str,
    *,
    grain: str = "month",
    by: Sequence[str] = (),
    calendar: dict[str, Any] | None = None,
) -> str | None:
    """Why a query of ``kpi`` at ``grain`` is invalid (a unit finer than the grain, a to_date group
    its periods do not nest in, a window at grain ``all``, ...), or None when it is valid.

    Only the formulas are checked (and their aggregates resolved); no period is computed.
    """
    query = Query(definitions, data, grain, by, None, None, None, Calendar.of(calendar))
    try:
        query.walk_kpi(kpi, (), (), False, [])
    except ValueError as error:
        return str(error)
    return None
