"""Periods as whole numbers.

Every period of a grain has an integer index, the same in Python and in SQL:

- day: days since 1900-01-01 (a Monday); week: day index // 7 (ISO weeks);
- month: year * 12 + month - 1; quarter: year * 4 + (month - 1) // 3; year: the year.

With indexes, "the previous period", "the last n periods", "the periods of
this year" and a dense time spine are integer arithmetic that every SQL engine
does the same way, instead of date arithmetic that each engine does
differently. Only two conversions need a dialect: timestamp → index and
index → date (``dialects``).
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "CONTAINS",
    "current_period",
    "GRAINS",
    "EPOCH",
    "day_after",
    "end_date",
    "group_start",
    "index_of",
    "start_date",
    "start_date_or_none",
]

GRAINS = ("day", "week", "month", "quarter", "year", "all")
EPOCH = dt.date(1900, 1, 1)

#: query grain → the to_date() grains whose boundaries are period boundaries.
CONTAINS: dict[str, tuple[str, ...]] = {
    "day": ("week", "month", "quarter", "year"),
    "week": ("week",),
    "month": ("month", "quarter", "year"),
    "quarter": ("quarter", "year"),
    "year": ("year",),
}


def index_of(day: dt.date, grain: str) -> int:
    """The index of the period of ``grain`` that contains ``day``."""
    if grain == "day":
        return (day - EPOCH).days
    if grain == "week":
        return (day - EPOCH).days // 7
    if grain == "month":
        return day.year * 12 + day.month - 1
    if grain == "quarter":
        return day.year * 4 + (day.month - 1) // 3
    if grain == "year":
        return day.year
    raise ValueError(grain)


def start_date(index: int, grain: str) -> dt.date:
    """The first day of period ``index``."""
    if grain == "day":
        return EPOCH + dt.timedelta(days=index)
    if grain == "week":
        return EPOCH + dt.timedelta(days=index * 7)
    if grain == "month":
        return dt.date(index // 12, index % 12 + 1, 1)
    if grain == "quarter":
        return dt.date(index // 4, (index % 4) * 3 + 1, 1)
    if grain == "year":
        return dt.date(index, 1, 1)
    raise ValueError(grain)


def end_date(index: int, grain: str) -> dt.date:
    """The first day after period ``index`` (ranges are half-open)."""
    return start_date(index + 1, grain)


def start_date_or_none(index: int, grain: str) -> dt.date | None:
    """The first day of period ``index``, or None when it falls outside years 1 to 9999.

    Periods themselves are integers and reach anywhere (``previous(x, 100000)``); only a
    date to compare rows with must exist, and no row is dated outside those years.
    """
    try:
        return start_date(index, grain)
    except (ValueError, OverflowError):
        return None


def day_after(day: dt.date) -> dt.date | None:
    """The next day, or None after 9999-12-31."""
    return day + dt.timedelta(days=1) if day < dt.date.max else None


def group_start(index: int, grain: str, group: str) -> int:
    """The index of the first period of the ``group`` (e.g. year) that holds period ``index``.

    Outside years 1 to 9999 no row exists: a group's worth of periods earlier is far enough.
    """
    day = start_date_or_none(index, grain)
    if day is None or day < dt.date(1, 2, 1):
        return index - {"day": 366, "week": 53, "month": 12, "quarter": 4, "year": 1}[grain]
    if group == "week":
        first = day - dt.timedelta(days=day.weekday())
    elif group == "month":
        first = day.replace(day=1)
    elif group == "quarter":
        first = dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    elif group == "year":
        first = dt.date(day.year, 1, 1)
    else:
        raise ValueError(group)
    return index_of(first, grain)


def current_period(today: dt.date, grain: str) -> str:
    """The label (first day, YYYY-MM-DD) of the period of ``grain`` that holds ``today``."""
    return start_date(index_of(today, grain), grain).isoformat()
