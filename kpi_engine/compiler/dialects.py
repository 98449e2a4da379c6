"""What differs between SQL engines, owned here rather than left to chance.

sqlglot transpiles most SQL faithfully, but not everything a KPI engine needs:
with ``unsupported_level=RAISE`` it still prints ``YEAR(ts)`` for SQLite (no
such function), ``DATE_FROM_PARTS`` for PostgreSQL, ``PERCENTILE_CONT(x, p)``
as an aggregate for BigQuery, and an ISO weekday off by one for Spark. Each
:class:`SqlDialect` builds the expressions whose meaning must not vary —
period indexes, dates, true division, time differences, continuous
percentiles, integer series — in a form its engine runs. DuckDB and SQLite
(and PostgreSQL and Spark with their plugins) are checked by execution tests;
the others by golden SQL.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import NamedTuple

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from ..errors import QueryError, did_you_mean, unknown
from ..timezones import zone as zone_info
from . import sql
from .periods import UTC, Calendar
from .rounding import exact_round
from .sql import binary, cast, col, func, lit, literal_int, wrap
from .zone_changes import changes_within, day_moving_gaps, has_gaps, longest_fold, period_starts, usual_times

__all__ = ["SqlDialect", "check_tested", "dialect_for", "known_dialects", "tested_dialects"]

_EPOCH = "1900-01-01"
_EPOCH_MONTHS = 1900 * 12


class Flags(NamedTuple):
    """What a dialect has, which decides how kpi_engine writes a part of its SQL."""

    filter_clause: bool  # AGG(x) FILTER (WHERE c); otherwise AGG(CASE WHEN c THEN x END)
    native_percentile: bool  # a continuous percentile aggregate; otherwise one from row ranks
    named_date_parts: bool  # YEAR(ts), MONTH(ts), HOUR(ts); otherwise EXTRACT(... FROM ts)
    make_date: bool  # MAKE_DATE(y, m, d) for the first day of a month, quarter or year
    recursive_series: bool  # the periods are a recursive CTE (no series function)


#: Every dialect's flags, a line each (the methods of its class below build what differs beyond them).
FLAGS: dict[str, Flags] = {
    #                      FILTER  percentile  YEAR()  MAKE_DATE  recursive
    "duckdb":    Flags(True,   True,       True,   False,     False),
    "postgres":  Flags(True,   True,       False,  True,      False),
    "sqlite":    Flags(True,   False,      False,  False,     True),
    "spark":     Flags(True,   True,       True,   True,      False),
    "snowflake": Flags(False,  True,       False,  False,     True),
    "bigquery":  Flags(False,  False,      False,  False,     False),
    "trino":     Flags(True,   False,      False,  False,     False),
}
#: any other sqlglot dialect (compile-only, never tested): the most portable SQL
GENERIC = Flags(False, True, False, False, True)


class SqlDialect:
    """A target engine. The defaults are standard SQL as DuckDB and PostgreSQL read it."""

    #: sqlglot's name for the dialect; its flags are those of FLAGS[name] (a dialect without adapter: GENERIC)
    name = "duckdb"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.flags = FLAGS[cls.name]

    @property
    def filter_clause(self) -> bool:
        return self.flags.filter_clause

    @property
    def native_percentile(self) -> bool:
        return self.flags.native_percentile

    @property
    def named_date_parts(self) -> bool:
        return self.flags.named_date_parts

    @property
    def make_date(self) -> bool:
        return self.flags.make_date

    @property
    def uses_recursive_series(self) -> bool:
        return self.flags.recursive_series

    flags: Flags = FLAGS["duckdb"]

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name
            self.flags = FLAGS.get(name, GENERIC)

    @property
    def nulls_first_by_default(self) -> bool:
        """Whether ascending order puts nulls first in this dialect (then sqlglot prints no NULLS clause)."""
        return sqlglot.Dialect.get_or_raise(self.name).NULL_ORDERING == "nulls_are_small"

    def generate(self, expression: exp.Expression, *, pretty: bool = True) -> str:
        try:
            # no defensive copy: every tree is built for one generation (a copy is a third of compiling)
            return expression.sql(dialect=self.name, pretty=pretty, unsupported_level=ErrorLevel.RAISE, copy=False)
        except SqlglotError as exc:
            raise QueryError(f"cannot write this query in dialect '{self.name}': {exc}", code="dialect") from exc

    # ---------------------------------------------------------------- values
    def double(self, value: exp.Expression) -> exp.Expression:
        return cast(value, "DOUBLE")

    def integer(self, value: exp.Expression) -> exp.Expression:
        return cast(value, "INT")

    def time_literal(self, day) -> exp.Expression:
        """A midnight bound compared with a time column (a string literal coerces to the column's type)."""
        return lit(day.isoformat())

    def divide(self, numerator: exp.Expression, denominator: exp.Expression) -> exp.Expression:
        """True division, null when the divisor is 0 or null (SPEC §4.2)."""
        return exp.Div(
            this=self.double(numerator),
            expression=exp.Nullif(this=wrap(denominator), expression=lit(0)),
            typed=False,
            safe=False,
        )

    def int_div(self, value: exp.Expression, divisor: int) -> exp.Expression:
        """Floor division of a non-negative integer."""
        return exp.IntDiv(this=wrap(value), expression=lit(divisor))

    def mod(self, value: exp.Expression, divisor: int) -> exp.Expression:
        return exp.Mod(this=wrap(value), expression=lit(divisor))

    # ------------------------------------------------------------ row functions

    def round(self, value: exp.Expression, digits: exp.Expression | None) -> exp.Expression:
        """The binary double rounded half away from zero, the same on every engine (``rounding``)."""
        return exact_round(self, value, literal_int(digits) if digits is not None else 0)

    def floor_nonnegative(self, value: exp.Expression) -> exp.Expression:
        """The whole part of a non-negative double (below 2**52)."""
        return exp.Floor(this=value)

    def least(self, args: Sequence[exp.Expression]) -> exp.Expression:
        return self._extreme("LEAST", args)

    def greatest(self, args: Sequence[exp.Expression]) -> exp.Expression:
        return self._extreme("GREATEST", args)

    def at_least(self, value: exp.Expression, floor: int) -> exp.Expression:
        """``value`` raised to ``floor``, for period indexes of rows known to have a time.

        Plain GREATEST: the null-propagating form of ``greatest`` costs a CASE per row, and
        the scans that clamp already exclude rows without a time.
        """
        return func("GREATEST", value, lit(floor))

    def _extreme(self, name: str, args: Sequence[exp.Expression]) -> exp.Expression:
        """LEAST/GREATEST, null when any argument is null, on every engine."""
        if len(args) == 1:
            return args[0]
        any_null = sql.or_(*(exp.Is(this=wrap(a), expression=exp.null()) for a in args))
        return exp.Case(ifs=[exp.If(this=any_null, true=exp.null())], default=func(name, *args))

    def like(self, value: exp.Expression, pattern: str) -> exp.Expression:
        """SQL LIKE, case-sensitive: % any text, _ one character."""
        return exp.Like(this=value, expression=lit(pattern))

    # ------------------------------------------------------------------ time
    def date(self, ts: exp.Expression) -> exp.Expression:
        return cast(ts, "DATE")

    def extract(self, part: str, ts: exp.Expression) -> exp.Expression:
        return exp.Extract(this=exp.var(part), expression=ts)

    def year(self, ts: exp.Expression) -> exp.Expression:
        return exp.Year(this=ts) if self.named_date_parts else self.extract("YEAR", ts)

    def month(self, ts: exp.Expression) -> exp.Expression:
        return exp.Month(this=ts) if self.named_date_parts else self.extract("MONTH", ts)

    def hour(self, ts: exp.Expression) -> exp.Expression:
        return exp.Hour(this=ts) if self.named_date_parts else self.extract("HOUR", ts)

    def day_of_week(self, ts: exp.Expression) -> exp.Expression:
        return self.extract("ISODOW", ts)

    def day_number(self, ts: exp.Expression) -> exp.Expression:
        """Whole days from 1900-01-01 to the date of ``ts``."""
        return exp.Sub(this=self.date(ts), expression=cast(lit(_EPOCH), "DATE"))

    def epoch_seconds(self, ts: exp.Expression) -> exp.Expression:
        return func("EPOCH", ts)

    def seconds_between(self, a: exp.Expression, b: exp.Expression, *, per: int = 1) -> exp.Expression:
        """``b - a`` in seconds (or minutes, hours, days), fractional."""
        diff = binary(exp.Sub, self.epoch_seconds(b), self.epoch_seconds(a))
        if per == 1:
            return self.double(diff)
        return exp.Div(this=self.double(diff), expression=lit(per), typed=False, safe=False)

    def period_index(self, ts: exp.Expression, grain: str, calendar: Calendar = UTC) -> exp.Expression:
        """The integer index of the period holding ``ts``, a local time (``periods``)."""
        if grain == "day":
            return self.day_number(ts)
        if grain == "week":
            days = self.day_number(ts)
            offset = calendar.week_offset  # weeks start on the calendar's week_start
            return self.int_div(binary(exp.Add, days, lit(offset)) if offset else days, 7)
        if grain == "quarter":
            month0 = exp.Sub(this=self.month(ts), expression=lit(1))
            return exp.Add(this=binary(exp.Mul, self.year(ts), lit(4)), expression=self.int_div(month0, 3))
        if grain == "year":
            return self.year(ts)
        month = exp.Sub(this=exp.Add(this=binary(exp.Mul, self.year(ts), lit(12)), expression=self.month(ts)),
                        expression=lit(1))
        if grain == "month":
            return month
        # fiscal periods: months counted from the fiscal year's first month
        shifted = binary(exp.Sub, month, lit(calendar.fiscal_offset)) if calendar.fiscal_offset else month
        if grain == "fiscal_quarter":
            return self.int_div(shifted, 3)
        if grain == "fiscal_year":
            return self.int_div(shifted, 12)
        raise ValueError(grain)

    def period_date(self, index: exp.Expression, grain: str, calendar: Calendar = UTC) -> exp.Expression:
        """The first day of period ``index``, as a DATE."""
        if grain == "day":
            return self.add_days(index)
        if grain == "week":
            days = binary(exp.Mul, index, lit(7))
            offset = calendar.week_offset
            return self.add_days(binary(exp.Sub, days, lit(offset)) if offset else days)
        if self.make_date:
            return self._make_date(index, grain, calendar)
        return self.add_months(self._months_from_epoch(index, grain, calendar))

    def _months_from_epoch(self, index: exp.Expression, grain: str, calendar: Calendar = UTC) -> exp.Expression:
        return binary(exp.Sub, self._month_index(index, grain, calendar), lit(_EPOCH_MONTHS))

    @staticmethod
    def _month_index(index: exp.Expression, grain: str, calendar: Calendar = UTC) -> exp.Expression:
        """year * 12 + month - 1 of the first month of a month, quarter, year or fiscal index."""
        if grain == "month":
            return index
        months = binary(exp.Mul, index, lit(3 if grain in ("quarter", "fiscal_quarter") else 12))
        if grain.startswith("fiscal_") and calendar.fiscal_offset:
            months = binary(exp.Add, months, lit(calendar.fiscal_offset))
        return months

    def _make_date(self, index: exp.Expression, grain: str, calendar: Calendar = UTC) -> exp.Expression:
        months = self._month_index(index, grain, calendar)
        return func("MAKE_DATE", self.integer(self.int_div(months, 12)),
                    self.integer(binary(exp.Add, self.mod(months.copy(), 12), lit(1))), lit(1))

    def add_days(self, days: exp.Expression) -> exp.Expression:
        return exp.Add(this=cast(lit(_EPOCH), "DATE"), expression=self.integer(days))

    def add_months(self, months: exp.Expression) -> exp.Expression:
        return exp.DateAdd(this=cast(lit(_EPOCH), "DATE"), expression=months, unit=exp.var("MONTH"))

    def months_before(self, day: exp.Expression, months: int) -> exp.Expression:
        """The date ``months`` months before ``day``: the same day of the month, or the month's last day
        when it has fewer days (the engines' own month arithmetic, which clamps so; a timestamp on some)."""
        return exp.DateAdd(this=day, expression=lit(-months), unit=exp.var("MONTH"))

    # ------------------------------------------------------------ time zones
    #: a naive UTC time plus a literal INTERVAL is SQL this engine runs (so a zone's offsets, known at compile
    #: time, can replace a conversion per row); with ``instants_as_utc``, CAST(instant AS TIMESTAMP) is its UTC
    #: wall time (the connector pins the session's zone to UTC)
    offset_arithmetic = False
    instants_as_utc = False

    def local_time(self, ts: exp.Expression, kind: str | None, data_zone: str, zone: str, *,
                   period: bool = False, within: tuple[dt.datetime, dt.datetime] | None = None) -> exp.Expression:
        """A row's time as the wall time of the calendar's ``zone`` (periods and row functions read that).

        ``kind`` is what the column holds: "date" (a calendar date: never shifted), "timestamptz" (an
        instant), "timestamp" or None (a naive time, of the dataset's ``data_zone``). ``period``: only the
        local day matters (cutting periods), not the time of day. ``within``: every value is an instant in
        this range of naive UTC times (the rows a scan reads), so the zone's offsets there are known.
        """
        if kind == "date":
            return ts
        utc = self.offset_input(ts, kind, data_zone, zone) if within is not None or period else None
        if utc is not None:
            exact = None if within is not None else self.local_time(ts.copy(), kind, data_zone, zone)
            return self.offset_shifted(utc, zone, within or usual_times(), exact)
        if kind == "timestamptz":
            return self.to_local(ts, zone)
        if data_zone == zone:
            # a wall time of the calendar's own zone is its local time, except one in a DST gap: read with the
            # offset before the gap, it is the wall time after it (02:30 -> 03:30); a period sees that only
            # where a gap moves a time to another day
            if not has_gaps(zone):
                return ts
            return self.day_moved(ts, zone) if period else self.normalised(ts, zone)
        return self.to_local(self.from_zone(ts, data_zone), zone)

    def offset_input(self, ts: exp.Expression, kind: str | None, data_zone: str, zone: str) -> exp.Expression | None:
        """The naive UTC time that a zone's offsets shift into ``zone``'s wall time, for a column of this
        ``kind`` and ``data_zone``; None where the engine converts instead (a naive time of another zone)."""
        if kind == "date" or not self.offset_arithmetic or zone == "UTC":
            return None
        if kind == "timestamptz":
            return cast(ts, "TIMESTAMP") if self.instants_as_utc else None
        return ts if data_zone == "UTC" else None

    def offset_shifted(self, utc: exp.Expression, zone: str, within: tuple[dt.datetime, dt.datetime],
                       exact: exp.Expression | None = None) -> exp.Expression:
        """A naive UTC time as the wall time of ``zone``: plus the offset in force, from zoneinfo at compile time
        (the changes in ``within``; none in most ranges a query reads: then one addition). 1M rows are cut in
        months at the cost of a few comparisons, where a zone conversion per row (ICU) costs ten times the
        query. With ``exact`` (the engine's own conversion), values outside ``within`` may come: they take it."""
        def plus(offset: dt.timedelta | None) -> exp.Expression:
            if offset is None:  # outside ``within``
                return exact.copy() if exact is not None else utc.copy()
            seconds = int(offset.total_seconds())
            return self.add_seconds(utc.copy(), seconds) if seconds else utc.copy()

        return self.pick_stretch(utc, zone, within, exact is not None, plus)

    def pick_stretch(self, utc: exp.Expression, zone: str, within: tuple[dt.datetime, dt.datetime], outside: bool,
                     leaf: Callable[[dt.timedelta | None], exp.Expression]) -> exp.Expression:
        """``leaf(offset)`` of the stretch of constant offset ``utc`` falls in: the offset of ``zone`` there, or
        None outside ``within`` (with ``outside``: values may be there)."""
        lo, hi = within
        # (from, offset) of each stretch
        stretches: list[tuple[dt.datetime | None, dt.timedelta | None]] = [(None, None)] if outside else []
        stretches.append((lo, lo.replace(tzinfo=dt.timezone.utc).astimezone(zone_info(zone)).utcoffset()))
        stretches += [(instant, after) for instant, _, after in changes_within(zone, lo, hi)]
        if outside:
            stretches.append((hi, None))

        return self.by_start(utc, [start for start, _ in stretches], [leaf(offset) for _, offset in stretches])

    def by_start(self, utc: exp.Expression, starts: Sequence[dt.datetime | None],
                 leaves: Sequence[exp.Expression]) -> exp.Expression:
        """``leaves[i]`` where ``utc`` is at or after ``starts[i]`` and before ``starts[i + 1]`` (sorted; the first
        start is not compared). A balanced tree of comparisons: a CASE of a hundred WHENs in a row costs twice the
        query even when the first one holds."""
        def pick(first: int, end: int) -> exp.Expression:
            if end - first == 1:
                return leaves[first]
            middle = (first + end) // 2
            later = exp.GTE(this=utc.copy(), expression=self.naive_literal(starts[middle]))
            return exp.Case(ifs=[exp.If(this=later, true=pick(middle, end))], default=pick(first, middle))

        return pick(0, len(leaves))

    def period_by_starts(self, utc: exp.Expression, grain: str, calendar: Calendar,
                         within: tuple[dt.datetime, dt.datetime]) -> exp.Expression | None:
        """The index of the local period that holds ``utc`` (a naive UTC time in ``within``), by comparing it with
        the UTC instants the periods start at: no offset added, no year or month read from each row. None where
        that is not the cheaper cut (``zone_changes.period_starts``)."""
        cut = period_starts(calendar, grain, within)
        if cut is None:
            return None
        first, starts = cut
        return self.by_start(utc, [None] + [start for start, _ in starts],
                             [lit(first)] + [lit(index) for _, index in starts])

    def naive_literal(self, moment: dt.datetime) -> exp.Expression:
        """A naive time compared with a naive column (no session zone may shift it)."""
        return cast(lit(str(moment)), "TIMESTAMP")

    def add_seconds(self, naive: exp.Expression, seconds: int) -> exp.Expression:
        """A naive time ``seconds`` (a constant) later."""
        return exp.Add(this=naive, expression=exp.Interval(this=lit(str(seconds)), unit=exp.var("SECOND")))

    def normalised(self, naive: exp.Expression, zone: str) -> exp.Expression:
        """A naive wall time of ``zone`` as the wall time of the instant it is read as (moves a gap's time)."""
        return self.to_local(self.from_zone(naive, zone), zone)

    def day_moved(self, naive: exp.Expression, zone: str) -> exp.Expression:
        """A naive wall time of ``zone`` with its day right (:meth:`normalised` where a gap moves it to another
        day, as it is elsewhere): two comparisons a row for such a gap, instead of two zone conversions."""
        gaps = day_moving_gaps(zone)
        if not gaps:
            return naive
        ifs = [exp.If(this=exp.and_(exp.GTE(this=naive.copy(), expression=self.naive_literal(start)),
                                    exp.LT(this=naive.copy(), expression=self.naive_literal(end))),
                      true=exp.Add(this=naive.copy(), expression=exp.Interval(
                          this=lit(str(int(moved.total_seconds()))), unit=exp.var("SECOND"))))
               for start, end, moved in gaps]
        return exp.Case(ifs=ifs, default=naive)

    def instant(self, ts: exp.Expression, kind: str | None, data_zone: str) -> exp.Expression:
        """A row's time as an instant, for elapsed times (``*_between``: real time, also across DST)."""
        if kind in ("date", "timestamptz") or data_zone == "UTC":
            return ts
        return self.from_zone(ts, data_zone)

    def to_local(self, instant: exp.Expression, zone: str) -> exp.Expression:
        """An instant as the naive wall time of ``zone``."""
        raise QueryError(f"dialect '{self.name}' has no time zone conversion: its calendar must be UTC",
                         code="dialect")

    def from_zone(self, naive: exp.Expression, zone: str) -> exp.Expression:
        """A naive wall time of ``zone`` as an instant (a gap's time takes the offset before it)."""
        raise QueryError(f"dialect '{self.name}' has no time zone conversion: its datasets' timezone must be UTC",
                         code="dialect")

    def first_occurrence(self, naive: exp.Expression, zone: str,
                         read: Callable[[exp.Expression], exp.Expression]) -> exp.Expression:
        """A wall time of ``zone`` as an instant, from an engine's ``read`` that takes a gap's time with the
        offset before the gap, as it must, but a repeated hour's time as its *last* occurrence (DuckDB's ICU,
        PostgreSQL), which must be its first: read it ``shift`` earlier (before the fold: with the offset
        before it) and move back. That is the first occurrence when the zone shows it as the same wall time;
        otherwise (a change within ``shift`` before it, or a gap) the engine's own reading is right. Zones
        that never repeat an hour cost one reading."""
        plain = read(naive)
        fold = longest_fold(zone)
        if not fold:
            return plain
        shift = exp.Interval(this=lit(str(int(fold.total_seconds()))), unit=exp.var("SECOND"))
        early = exp.Add(this=read(exp.Sub(this=naive.copy(), expression=shift)), expression=shift.copy())
        same = exp.EQ(this=self.to_local(early, zone), expression=naive.copy())
        return exp.Case(ifs=[exp.If(this=same, true=early.copy())], default=plain)

    def instant_literal(self, moment) -> exp.Expression:
        """An instant (an aware datetime) compared with a column that holds instants."""
        return lit(moment.isoformat(sep=" "))

    def time_gt(self, a: exp.Expression, b: exp.Expression) -> exp.Expression:
        """``a`` is a later instant than ``b``."""
        return exp.GT(this=a, expression=b)

    # ------------------------------------------------------------ aggregates
    def aggregate(
        self,
        func_name: str,
        arg: exp.Expression | None,
        condition: exp.Expression | None,
        fraction: Decimal | None = None,
    ) -> exp.Expression:
        """count/count_distinct/sum/min/max/percentile of ``arg`` over rows meeting ``condition``."""
        if condition is not None and not self.filter_clause:
            arg = exp.Case(ifs=[exp.If(this=condition, true=arg if arg is not None else lit(1))])
            condition = None
        if func_name == "count":
            node: exp.Expression = exp.Count(this=arg if arg is not None else exp.Star())
        elif func_name == "count_distinct":
            node = exp.Count(this=exp.Distinct(expressions=[arg]))
        elif func_name == "sum":
            node = exp.Sum(this=arg)
        elif func_name == "avg":
            node = exp.Avg(this=arg)
        elif func_name == "min":
            node = exp.Min(this=arg)
        elif func_name == "max":
            node = exp.Max(this=arg)
        elif func_name == "percentile":
            assert fraction is not None and arg is not None
            # interpolated as doubles: a DECIMAL(10, 2) median of 1.01 and 1.02 is 1.015, not 1.01
            node = self.percentile(arg if _is_double(arg) else self.double(arg), fraction)
        else:
            raise ValueError(func_name)
        if condition is not None:
            node = exp.Filter(this=node, expression=exp.Where(this=condition))
        return node

    def percentile(self, arg: exp.Expression, fraction: Decimal) -> exp.Expression:
        return exp.WithinGroup(
            this=func("PERCENTILE_CONT", lit(fraction)),
            expression=exp.Order(expressions=[exp.Ordered(this=arg, nulls_first=False)]),
        )

    # ----------------------------------------------------------------- series
    def series(self, low: exp.Expression, high: exp.Expression, bounds: str | None) -> exp.Expression:
        """SELECT p FROM <every integer from low to high>.

        low/high are columns of the CTE ``bounds``, or literals when ``bounds`` is None.
        """
        return self._series_select(exp.Unnest(expressions=[func("GENERATE_SERIES", low, high)]), low, bounds)

    def _series_select(self, values: exp.Expression, low: exp.Expression, bounds: str | None) -> exp.Expression:
        if bounds is None:
            return sql.select([sql.alias(values, "p")])
        return sql.select([sql.alias(values, "p")], exp.Table(this=sql.ident(bounds)),
                          where=exp.Not(this=exp.Is(this=low.copy(), expression=exp.null())))

    def recursive_series(self, low: exp.Expression, high: exp.Expression, bounds: str | None,
                         name: str) -> exp.Expression:
        """The portable form: a recursive CTE ``name(p)``; used where no series function exists."""
        if bounds is None:
            seed = sql.select([sql.alias(low, "p")])
            step = sql.select([sql.alias(exp.Add(this=col("p", name), expression=lit(1)), "p")],
                              exp.Table(this=sql.ident(name)), where=exp.LT(this=col("p", name), expression=high))
            return exp.Union(this=seed, expression=step, distinct=False)
        seed = sql.select([sql.alias(low, "p")], exp.Table(this=sql.ident(bounds)),
                          where=exp.Not(this=exp.Is(this=low, expression=exp.null())))
        step = sql.select(
            [sql.alias(exp.Add(this=col("p", name), expression=lit(1)), "p")],
            exp.Table(this=sql.ident(name)),
            joins=[sql.join(exp.Table(this=sql.ident(bounds)), None, kind="CROSS")],
            where=exp.LT(this=col("p", name), expression=high),
        )
        return exp.Union(this=seed, expression=step, distinct=False)



def _is_double(node: exp.Expression) -> bool:
    return isinstance(node, exp.Cast) and node.to.this in (exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT)


class DuckDB(SqlDialect):
    name = "duckdb"
    offset_arithmetic = instants_as_utc = True

    def day_of_week(self, ts):
        return func("ISODOW", ts)

    def percentile(self, arg, fraction):
        return func("QUANTILE_CONT", arg, lit(fraction))

    def series(self, low, high, bounds):
        if bounds is not None:
            return super().series(low, high, bounds)
        # a table function in FROM plans faster than UNNEST in SELECT (a tenth of a 2 ms query)
        table = exp.Table(this=func("GENERATE_SERIES", low, high),
                          alias=exp.TableAlias(this=sql.ident("g"), columns=[sql.ident("p")]))
        return sql.select([col("p", "g")], table)

    def to_local(self, instant, zone):
        return func("TIMEZONE", lit(zone), instant)  # an instant in a zone: its wall time (ICU, built in)

    def from_zone(self, naive, zone):
        # ICU reads a repeated hour's time as its last occurrence
        return self.first_occurrence(naive, zone, lambda t: func("TIMEZONE", lit(zone), t))

    def add_seconds(self, naive, seconds):
        # microseconds since the epoch: a third of the cost of TIMESTAMP + INTERVAL, which adds months, days and
        # microseconds apart (cutting 1M rows in months: 1.05x the UTC query, 1.5x with the INTERVAL)
        micros = func("EPOCH_US", naive)
        shifted = binary(exp.Add, micros, lit(seconds * 1_000_000)) if seconds > 0 else \
            binary(exp.Sub, micros, lit(-seconds * 1_000_000))
        return func("MAKE_TIMESTAMP", shifted)

    def offset_input(self, ts, kind, data_zone, zone):
        if kind == "timestamptz" and zone != "UTC":
            # an instant's UTC wall time from its microseconds: CAST(instant AS TIMESTAMP) goes through ICU for
            # each row, as YEAR or MONTH of an instant do (1M rows: 95 ms, against 13 ms this way)
            return func("MAKE_TIMESTAMP", func("EPOCH_US", ts))
        return super().offset_input(ts, kind, data_zone, zone)

    def offset_shifted(self, utc, zone, within, exact=None):
        if exact is not None:
            return super().offset_shifted(utc, zone, within, exact)
        # the CASE picks the offset in microseconds, one MAKE_TIMESTAMP adds it: a CASE of integers costs less
        # than one of timestamps (America/New_York, 1M rows in months: 1.17x the UTC query, was 1.29x)
        seconds: list[int] = []

        def micros(offset: dt.timedelta | None) -> exp.Expression:
            seconds.append(int(offset.total_seconds()))  # type: ignore[union-attr]  # no values outside
            return lit(seconds[-1] * 1_000_000)

        picked = self.pick_stretch(utc, zone, within, False, micros)
        if len(seconds) == 1:
            return self.add_seconds(utc, seconds[0]) if seconds[0] else utc
        return func("MAKE_TIMESTAMP", binary(exp.Add, func("EPOCH_US", utc), picked))

    def normalised(self, naive, zone):
        # the wall time of ICU's instant: a repeated hour's time is the same whichever occurrence it is
        return self.to_local(func("TIMEZONE", lit(zone), naive), zone)

    def add_months(self, months):
        # DATE + TO_MONTHS(n) plans faster than MAKE_DATE(y, m, 1) (a third of a 2 ms query)
        return cast(exp.Add(this=cast(lit(_EPOCH), "DATE"), expression=func("TO_MONTHS", self.integer(months))),
                    "DATE")


class Postgres(SqlDialect):
    name = "postgres"
    offset_arithmetic = instants_as_utc = True

    def to_local(self, instant, zone):
        return exp.AtTimeZone(this=wrap(instant), zone=lit(zone))

    def from_zone(self, naive, zone):
        # timestamp AT TIME ZONE reads a repeated hour's time as its last occurrence
        return self.first_occurrence(naive, zone, lambda t: exp.AtTimeZone(this=wrap(t), zone=lit(zone)))

    def normalised(self, naive, zone):
        return self.to_local(exp.AtTimeZone(this=wrap(naive), zone=lit(zone)), zone)

    def local_time(self, ts, kind, data_zone, zone, *, period=False, within=None):
        if kind == "date" and not period:
            return cast(ts, "TIMESTAMP")  # a date's midnight: PostgreSQL takes no HOUR from a DATE
        return super().local_time(ts, kind, data_zone, zone, period=period, within=within)

    def double(self, value):
        return cast(value, "DOUBLE PRECISION")

    def epoch_seconds(self, ts):
        return self.extract("EPOCH", ts)

    def int_div(self, value, divisor):
        return func("DIV", value, lit(divisor))

    def series(self, low, high, bounds):
        return self._series_select(func("GENERATE_SERIES", low, high), low, bounds)


class SQLite(SqlDialect):
    """SQLite keeps timestamps as ISO text and booleans as 0/1; dates go through STRFTIME/JULIANDAY."""

    name = "sqlite"

    def months_before(self, day, months):
        # DATE(d, '-1 months') rolls 31 March over to 2 March: when the day changed, take the last day of
        # the month before the one it rolled into
        moved = func("DATE", day, lit(f"-{months} months"))
        same_day = exp.EQ(this=func("STRFTIME", lit("%d"), moved), expression=func("STRFTIME", lit("%d"), day.copy()))
        last = func("DATE", moved.copy(), lit("start of month"), lit("-1 day"))
        return exp.Case(ifs=[exp.If(this=same_day, true=moved.copy())], default=last)

    def double(self, value):
        return cast(value, "REAL")

    def _strftime_int(self, pattern: str, ts: exp.Expression) -> exp.Expression:
        return cast(func("STRFTIME", lit(pattern), ts), "INTEGER")

    def date(self, ts):
        return func("DATE", ts)

    def floor_nonnegative(self, value):
        # CAST truncates, which is the floor of a non-negative value; FLOOR needs SQLite's math functions
        return cast(value, "INTEGER")

    def year(self, ts):
        return self._strftime_int("%Y", ts)

    def month(self, ts):
        return self._strftime_int("%m", ts)

    def hour(self, ts):
        return self._strftime_int("%H", ts)

    def day_of_week(self, ts):
        # %w of the date: SQLite takes %w from the julian day, rounded to the millisecond, so
        # '2024-12-31 23:59:59.9999' would be a Wednesday while its %Y-%m-%d is Tuesday's
        weekday = self._strftime_int("%w", func("DATE", ts))  # 0 = Sunday
        return binary(exp.Add, self.mod(binary(exp.Add, weekday, lit(6)), 7), lit(1))

    def day_number(self, ts):
        return cast(binary(exp.Sub, func("JULIANDAY", func("DATE", ts)), lit(Decimal("2415020.5"))), "INTEGER")

    def int_div(self, value, divisor):
        # SQLite divides integers as integers; the operands here are non-negative integers.
        return exp.Div(this=wrap(value), expression=lit(divisor), typed=True, safe=False)

    def seconds_between(self, a, b, *, per=1):
        # JULIANDAY is a double of days; rounding to the millisecond removes its float noise.
        days = binary(exp.Sub, func("JULIANDAY", b), func("JULIANDAY", a))
        millis = func("ROUND", binary(exp.Mul, days, lit(Decimal("86400000.0"))))
        return exp.Div(this=millis, expression=lit(Decimal(1000 * per) + Decimal("0.0")), typed=False, safe=False)

    def add_days(self, days):
        modifier = exp.DPipe(this=exp.DPipe(this=lit("+"), expression=cast(days, "TEXT")), expression=lit(" days"))
        return func("DATE", lit(_EPOCH), modifier)

    def period_date(self, index, grain, calendar=UTC):
        if grain in ("day", "week"):
            return super().period_date(index, grain, calendar)
        months = self._month_index(index, grain, calendar)
        return func("PRINTF", lit("%04d-%02d-01"), self.int_div(months, 12),
                    binary(exp.Add, self.mod(months.copy(), 12), lit(1)))

    def local_time(self, ts, kind, data_zone, zone, *, period=False, within=None):
        # SQLite's date functions read an offset suffix (+02:00, Z) as an instant and give UTC: with UTC
        # everywhere nothing is converted; otherwise the connector's kpi_local() reads each text by its form
        if data_zone == "UTC" and zone == "UTC":
            return ts
        return func("KPI_LOCAL", ts, lit(data_zone), lit(zone))

    def instant(self, ts, kind, data_zone):
        return ts if data_zone == "UTC" else func("KPI_INSTANT", ts, lit(data_zone))

    def time_gt(self, a, b):
        # '2024-01-01T10:00' and '2024-01-01 10:00' are the same instant but not the same text
        return exp.GT(this=func("JULIANDAY", a), expression=func("JULIANDAY", b))

    def at_least(self, value, floor):
        return func("MAX", value, lit(floor))  # SQLite's scalar MAX(a, b)

    def _extreme(self, name, args):
        return super()._extreme("MIN" if name == "LEAST" else "MAX", args)

    def like(self, value, pattern):
        # SQLite's LIKE ignores case; GLOB does not, so the pattern is translated.
        glob = "".join({"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}.get(ch, ch) for ch in pattern)
        return exp.Glob(this=value, expression=lit(glob))

    def series(self, low, high, bounds):  # pragma: no cover - SQLite uses recursive_series
        raise NotImplementedError


class Spark(SqlDialect):
    name = "spark"
    offset_arithmetic = True

    # the session time zone is UTC unless the source's conf sets another: a TIMESTAMP is then an instant shown in UTC
    def to_local(self, instant, zone):
        return func("FROM_UTC_TIMESTAMP", instant, lit(zone))

    def from_zone(self, naive, zone):
        return func("TO_UTC_TIMESTAMP", naive, lit(zone))

    def naive_literal(self, moment):
        # Spark's TIMESTAMP is an instant read in the session's zone, which conf may set
        return cast(lit(str(moment)), "TIMESTAMP_NTZ")

    def day_of_week(self, ts):
        return binary(exp.Add, func("WEEKDAY", ts), lit(1))  # WEEKDAY: 0 = Monday

    def day_number(self, ts):
        return func("DATEDIFF", self.date(ts), cast(lit(_EPOCH), "DATE"))

    def epoch_seconds(self, ts):
        return binary(exp.Div, func("UNIX_MICROS", cast(ts, "TIMESTAMP")), lit(Decimal("1000000.0")))

    def add_days(self, days):
        return func("DATE_ADD", cast(lit(_EPOCH), "DATE"), self.integer(days))

    def aggregate(self, func_name, arg, condition, fraction=None):
        if func_name == "avg" and arg is not None and not (isinstance(arg, exp.Cast) and arg.is_type("double")):
            # Spark's AVG of a DECIMAL(p, s) is a DECIMAL(p + 4, s + 4): 4/3 of a DECIMAL(18, 4) is 1.33333333.
            # DuckDB's is a DOUBLE (1.3333333333333333), and so is Spark's AVG of a DOUBLE.
            arg = self.double(arg)
        return super().aggregate(func_name, arg, condition, fraction)

    def percentile(self, arg, fraction):
        return func("PERCENTILE", arg, lit(fraction))

    def series(self, low, high, bounds):
        return self._series_select(func("EXPLODE", func("SEQUENCE", low, high)), low, bounds)


class Snowflake(SqlDialect):
    name = "snowflake"

    def local_time(self, ts, kind, data_zone, zone, *, period=False, within=None):
        if kind == "date" or (kind != "timestamptz" and data_zone == zone):
            return ts
        if kind == "timestamptz":
            return cast(func("CONVERT_TIMEZONE", lit(zone), ts), "TIMESTAMPNTZ")
        return func("CONVERT_TIMEZONE", lit(data_zone), lit(zone), ts)  # a naive time from one zone to another

    def from_zone(self, naive, zone):
        return func("CONVERT_TIMEZONE", lit(zone), lit("UTC"), naive)

    def day_of_week(self, ts):
        return func("DAYOFWEEKISO", ts)

    def day_number(self, ts):
        return func("DATEDIFF", exp.var("DAY"), cast(lit(_EPOCH), "DATE"), self.date(ts))

    def int_div(self, value, divisor):
        return func("FLOOR", exp.Div(this=wrap(value), expression=lit(divisor), typed=False, safe=False))

    def seconds_between(self, a, b, *, per=1):
        millis = func("DATEDIFF", exp.var("MILLISECOND"), a, b)
        return exp.Div(this=self.double(millis), expression=lit(1000 * per), typed=False, safe=False)

    def add_days(self, days):
        return func("DATEADD", exp.var("DAY"), days, cast(lit(_EPOCH), "DATE"))

    def add_months(self, months):
        return func("DATEADD", exp.var("MONTH"), months, cast(lit(_EPOCH), "DATE"))


class BigQuery(SqlDialect):
    name = "bigquery"

    # BigQuery's TIMESTAMP is an instant, its DATETIME a naive wall time
    def to_local(self, instant, zone):
        return func("DATETIME", instant, lit(zone))

    def from_zone(self, naive, zone):
        return func("TIMESTAMP", naive, lit(zone))

    def integer(self, value):
        return cast(value, "BIGINT")  # INT64

    def day_of_week(self, ts):
        sunday_first = self.extract("DAYOFWEEK", ts)
        return binary(exp.Add, func("MOD", binary(exp.Add, sunday_first, lit(5)), lit(7)), lit(1))

    def day_number(self, ts):
        return func("DATE_DIFF", self.date(ts), cast(lit(_EPOCH), "DATE"), exp.var("DAY"))

    def int_div(self, value, divisor):
        return func("DIV", value, lit(divisor))

    def mod(self, value, divisor):
        return func("MOD", value, lit(divisor))

    def seconds_between(self, a, b, *, per=1):
        # sqlglot's TIMESTAMPTZ is BigQuery's TIMESTAMP (its TIMESTAMP is BigQuery's DATETIME)
        micros = binary(exp.Sub, func("UNIX_MICROS", cast(b, "TIMESTAMPTZ")), func("UNIX_MICROS", cast(a, "TIMESTAMPTZ")))
        return exp.Div(this=self.double(micros), expression=lit(1_000_000 * per), typed=False, safe=False)

    def add_days(self, days):
        return func("DATE_ADD", cast(lit(_EPOCH), "DATE"), exp.Interval(this=days, unit=exp.var("DAY")))

    def add_months(self, months):
        return func("DATE_ADD", cast(lit(_EPOCH), "DATE"), exp.Interval(this=months, unit=exp.var("MONTH")))

    def series(self, low, high, bounds):
        # BigQuery names an UNNEST's value column through the alias' columns
        unnest = exp.Unnest(expressions=[func("GENERATE_ARRAY", low, high)],
                            alias=exp.TableAlias(columns=[sql.ident("p")]))
        if bounds is None:
            return sql.select([col("p")], unnest)
        return sql.select([col("p")], exp.Table(this=sql.ident(bounds)),
                          joins=[sql.join(unnest, None, kind="CROSS")])


class Trino(SqlDialect):
    name = "trino"

    def to_local(self, instant, zone):
        return cast(exp.AtTimeZone(this=wrap(instant), zone=lit(zone)), "TIMESTAMP")

    def from_zone(self, naive, zone):
        return func("WITH_TIMEZONE", naive, lit(zone))

    def time_literal(self, day):
        return exp.Cast(this=lit(day.isoformat()), to=exp.DataType.build("TIMESTAMP"))

    def day_of_week(self, ts):
        return func("DAY_OF_WEEK", ts)

    def day_number(self, ts):
        return func("DATE_DIFF", lit("day"), cast(lit(_EPOCH), "DATE"), self.date(ts))

    def int_div(self, value, divisor):
        return func("FLOOR", exp.Div(this=wrap(value), expression=lit(divisor), typed=True, safe=False))

    def epoch_seconds(self, ts):
        return func("TO_UNIXTIME", ts)

    def add_days(self, days):
        return func("DATE_ADD", lit("day"), days, cast(lit(_EPOCH), "DATE"))

    def add_months(self, months):
        return func("DATE_ADD", lit("month"), months, cast(lit(_EPOCH), "DATE"))

    def series(self, low, high, bounds):
        unnest = exp.Unnest(expressions=[func("SEQUENCE", low, high)],
                            alias=exp.TableAlias(this=sql.ident("s"), columns=[sql.ident("p")]))
        if bounds is None:
            return sql.select([col("p", "s")], unnest)
        return sql.select([col("p", "s")], exp.Table(this=sql.ident(bounds)),
                          joins=[sql.join(unnest, None, kind="CROSS")])


_DIALECTS: dict[str, type[SqlDialect]] = {
    cls.name: cls for cls in (DuckDB, Postgres, SQLite, Spark, Snowflake, BigQuery, Trino)
}
_DIALECTS["databricks"] = Spark
_DIALECTS["postgresql"] = Postgres


def tested_dialects() -> list[str]:
    """The dialects with an adapter here, checked by execution tests or golden SQL (``kpi compile --dialect``)."""
    return sorted(_DIALECTS)


def check_tested(name: str) -> str | None:
    """Why ``name`` cannot be asked for with ``--dialect`` (None when it can)."""
    key = name.lower()
    if key in _DIALECTS:
        return None
    known = known_dialects()
    if key in known:
        return (f"dialect '{name}' has no tested adapter in kpi_engine, so its SQL could be wrong; "
                f"tested dialects: {', '.join(tested_dialects())}")
    tested = tested_dialects()
    return unknown("SQL dialect", name, tested if did_you_mean(key, tested) else known, match=key,
                   otherwise=f" (tested dialects: {', '.join(tested)})")


def known_dialects() -> list[str]:
    """Every sqlglot dialect name (``kpi compile --dialect``)."""
    names = {d.value for d in sqlglot.Dialects if d.value}
    return sorted(names | {"postgresql"})


@functools.cache
def dialect_for(name: str) -> SqlDialect:
    """The adapter of a dialect; dialects without one use the standard SQL defaults."""
    key = name.lower()
    if key in _DIALECTS:
        return _DIALECTS[key]()
    if key not in known_dialects():
        raise QueryError(unknown("SQL dialect", name, known_dialects(), match=key),
                         hint="known: " + ", ".join(known_dialects()), code="dialect")
    return SqlDialect(key)
