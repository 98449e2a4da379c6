"""IANA time zones, checked by name; and a zone's wall time for an instant, in Python.

The zone database is the standard library's ``zoneinfo`` (the system's, or the ``tzdata`` package
where the system has none). Light: the command line and results use it too.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from .errors import unknown

__all__ = ["check_zone", "local_midnight_in", "zone"]


@functools.cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_zone(name: str) -> str | None:
    """Why ``name`` is not a time zone (with the nearest one), or None when it is."""
    try:
        zone(name)
        return None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return unknown("time zone", name, sorted(available_timezones()),
                       otherwise=" (an IANA name, such as UTC or America/Sao_Paulo)")


def local_midnight_in(day: dt.date, calendar_zone: str, target_zone: str | None) -> dt.datetime:
    """The first instant of ``day`` in ``calendar_zone``, as a wall time of ``target_zone`` (naive), or as
    an instant in UTC (aware) when ``target_zone`` is None.

    Midnight that does not exist (a DST gap at midnight) is the first instant after it.
    """
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone(calendar_zone))
    # fold=0 in a gap gives the wall time before the gap: normalise through UTC (the instant after the gap)
    instant = start.astimezone(dt.timezone.utc)
    if instant.astimezone(zone(calendar_zone)).date() != day:
        instant = dt.datetime.combine(day, dt.time(1), tzinfo=zone(calendar_zone)).astimezone(dt.timezone.utc)
    if target_zone is None:
        return instant
    return instant.astimezone(zone(target_zone)).replace(tzinfo=None)
