"""Periods as whole numbers, in a business calendar.

Every period of a grain has an integer index, the same in Python and in SQL:

- day: days since 1900-01-01 (a Monday);
- week: (day index + the week start's offset) // 7, weeks starting on the calendar's ``week_start``;
- month: year * 12 + month - 1; quarter: year * 4 + (month - 1) // 3; year: the year;
- fiscal_quarter, fiscal_year: the same, counted from the month the fiscal year starts in; a fiscal
  year's index is the calendar year it starts in.

With indexes, "the previous period", "the last n periods", "the periods of this year" and a
dense time spine are integer arithmetic that every SQL engine does the same way, instead of date
arithmetic that each engine does differently. Only two conversions need a dialect: local time →
index and index → date (``dialects``). Days are local days of the calendar's time zone: a row's
time is turned into local wall time first (``dialects.SqlDialect.local_time``).

This module is light (standard library only): the command line and results use it too.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Calendar",
    "EPOCH",
    "GRAINS",
    "UNITS",
    "WEEK_STARTS",
    "contains",
    "current_period",
    "day_after",
    "end_date",
    "group_start",
    "index_of",
    "reach",
    "shift_moves",
    "shift_periods",
    "shifted_index",
    "shifted_start",
    "start_date",
    "start_date_or_none",
    "unit_finer_than",
]

GRAINS = ("day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year", "all")
#: the units of previous(x, n, unit) and growth(x, n, unit), finest first
UNITS = ("day", "week", "month", "quarter", "year")
WEEK_STARTS = {"monday": 0, "sunday": 1, "saturday": 2}  # offset added to a day index (1900-01-01 is a Monday)
EPOCH = dt.date(1900, 1, 1)
#: grains and to_date() groups, finest first, for "is this unit finer than that grain"
_SIZE = {"day": 0, "week": 1, "month": 2, "quarter": 3, "fiscal_quarter": 3, "year": 4, "fiscal_year": 4}


@dataclass(frozen=True, slots=True)
class Calendar:
    """How periods are cut: a time zone (IANA name), the first day of a week, the fiscal year's first month."""

    timezone: str = "UTC"
    week_start: str = "monday"
    fiscal_year_start: int = 1

    @property
    def week_offset(self) -> int:
        return WEEK_STARTS[self.week_start]

    @property
    def fiscal_offset(self) -> int:
        """Months from January to the fiscal year's first month."""
        return self.fiscal_year_start - 1


UTC = Calendar()


def index_of(day: dt.date, grain: str, calendar: Calendar = UTC) -> int:
    """The index of the period of ``grain`` that contains ``day``."""
    if grain == "day":
        return (day - EPOCH).days
    if grain == "week":
        return ((day - EPOCH).days + calendar.week_offset) // 7
    month = day.year * 12 + day.month - 1
    if grain == "month":
        return month
    if grain == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    if grain == "year":
        return day.year
    if grain == "fiscal_quarter":
        return (month - calendar.fiscal_offset) // 3
    if grain == "fiscal_year":
        return (month - calendar.fiscal_offset) // 12
    raise ValueError(grain)


def start_date(index: int, grain: str, calendar: Calendar = UTC) -> dt.date:
    """The first day of period ``index``."""
    if grain == "day":
        return EPOCH + dt.timedelta(days=index)
    if grain == "week":
        return EPOCH + dt.timedelta(days=index * 7 - calendar.week_offset)
    month = {"month": index, "quarter": index * 3, "year": index * 12,
             "fiscal_quarter": index * 3 + calendar.fiscal_offset,
             "fiscal_year": index * 12 + calendar.fiscal_offset}.get(grain)
    if month is None:
        raise ValueError(grain)
    return dt.date(month // 12, month % 12 + 1, 1)


def end_date(index: int, grain: str, calendar: Calendar = UTC) -> dt.date:
    """The first day after period ``index`` (ranges are half-open)."""
    return start_date(index + 1, grain, calendar)


def start_date_or_none(index: int, grain: str, calendar: Calendar = UTC) -> dt.date | None:
    """The first day of period ``index``, or None when it falls outside years 1 to 9999.

    Periods themselves are integers and reach anywhere (``previous(x, 100000)``); only a
    date to compare rows with must exist, and no row is dated outside those years.
    """
    try:
        return start_date(index, grain, calendar)
    except (ValueError, OverflowError):
        return None


def day_after(day: dt.date) -> dt.date | None:
    """The next day, or None after 9999-12-31."""
    return day + dt.timedelta(days=1) if day < dt.date.max else None


def contains(grain: str, group: str, calendar: Calendar = UTC) -> bool:
    """Whether every period of ``grain`` lies in one ``group`` (to_date(x, group) at this grain)."""
    if grain == group:
        return True
    if grain == "day":
        return True
    if grain == "week":
        return False
    if grain == "month":
        return group in ("quarter", "year", "fiscal_quarter", "fiscal_year")
    if grain == "quarter":
        aligned = calendar.fiscal_offset % 3 == 0  # fiscal quarters are calendar quarters
        return group == "year" or (aligned and group in ("fiscal_quarter", "fiscal_year"))
    if grain == "fiscal_quarter":
        aligned = calendar.fiscal_offset % 3 == 0  # fiscal quarters are calendar quarters
        return group == "fiscal_year" or (aligned and group in ("quarter", "year"))
    if grain == "year":
        return group == "fiscal_year" and calendar.fiscal_offset == 0
    if grain == "fiscal_year":
        return group == "year" and calendar.fiscal_offset == 0
    return False


def group_start(index: int, grain: str, group: str, calendar: Calendar = UTC) -> int:
    """The index of the first period of the ``group`` (e.g. year) that holds period ``index``.

    Outside years 1 to 9999 no row exists: a group's worth of periods earlier is far enough.
    """
    day = start_date_or_none(index, grain, calendar)
    if day is None or day < dt.date(1, 2, 1):
        return index - {"day": 366, "week": 53, "month": 12, "quarter": 4, "year": 1,
                        "fiscal_quarter": 4, "fiscal_year": 1}[grain]
    return index_of(start_date(index_of(day, group, calendar), group, calendar), grain, calendar)


def unit_finer_than(unit: str, grain: str) -> bool:
    """previous(x, n, unit) needs whole periods: a unit finer than the grain cannot be one."""
    return _SIZE[unit] < _SIZE[grain]


def shifted_start(day: dt.date, n: int, unit: str) -> dt.date:
    """``day`` moved n units back (the month's last day when that day does not exist).

    Raises ValueError before 0001-01-01."""
    if unit in ("day", "week"):
        try:
            return day - dt.timedelta(days=n * (7 if unit == "week" else 1))
        except OverflowError as error:
            raise ValueError(str(error)) from None
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"year {year} is out of range")
    return dt.date(year, month0 + 1, min(day.day, _calendar.monthrange(year, month0 + 1)[1]))


def shift_periods(grain: str, n: int, unit: str, calendar: Calendar = UTC) -> int | None:
    """How many periods of ``grain`` previous(x, n, unit) goes back when that is the same for every
    period (the same month last year is 12 months back); None when it depends on the period (the
    same ISO week last year is 52 or 53 weeks back)."""
    if unit == grain or (unit, grain) in (("quarter", "fiscal_quarter"), ("year", "fiscal_year")):
        return n
    per = {("week", "day"): 7, ("quarter", "month"): 3, ("year", "month"): 12, ("year", "quarter"): 4,
           ("year", "fiscal_quarter"): 4}.get((unit, grain))
    return per * n if per is not None else None


#: one move of a previous(): ("periods", k) k periods back, or ("months", k) to the period holding the
#: day k months before the period's first day (day and week grains: 28 to 31 days a month)
Move = tuple[str, int]
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def shift_moves(steps: Iterable[tuple[int, str | None]], grain: str, calendar: Calendar = UTC) -> tuple[Move, ...]:
    """The moves of previous() steps (n, unit or None for periods), applied in order, at ``grain``:
    constant ones merged into one ("periods", k), so most shifts are a single LAG."""
    moves: list[Move] = []
    for n, unit in steps:
        periods = n if unit is None else shift_periods(grain, n, unit, calendar)
        move: Move = ("periods", periods) if periods is not None else ("months", n * _MONTHS[unit])
        if moves and moves[-1][0] == move[0] == "periods":
            moves[-1] = ("periods", moves[-1][1] + move[1])
        else:
            moves.append(move)
    return tuple(moves)


def shifted_index(index: int, moves: Iterable[Move], grain: str, calendar: Calendar = UTC) -> int | None:
    """The period previous() reads for period ``index``; None when it is before 0001-01-01."""
    for kind, k in moves:
        if kind == "periods":
            index -= k
            continue
        day = start_date_or_none(index, grain, calendar)
        if day is None:
            return None
        try:
            index = index_of(shifted_start(day, k, "month"), grain, calendar)
        except ValueError:
            return None
    return index


def reach(moves: Iterable[Move], grain: str) -> int:
    """At most how many periods back the moves go (a month is at most 31 days)."""
    total = 0
    for kind, k in moves:
        total += k if kind == "periods" else (31 * k if grain == "day" else 31 * k // 7 + 2)
    return total


def current_period(today: dt.date, grain: str, calendar: Calendar = UTC) -> str:
    """The label (first day, YYYY-MM-DD) of the period of ``grain`` that holds ``today``."""
    return start_date(index_of(today, grain, calendar), grain, calendar).isoformat()
