"""What a zone's offset changes are like, from zoneinfo at compile time: where its gaps and repeated hours
are, and the UTC instants its local periods start at. A dialect asks so that the SQL handles a zone's
oddities where they exist and costs nothing where they do not."""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Callable, Sequence

from ..timezones import zone as zone_info
from .periods import Calendar, index_of, start_date

_SCAN = (dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc))


@functools.cache
def offset_changes(zone: str) -> tuple[tuple[dt.datetime, dt.timedelta, dt.timedelta], ...]:
    """(instant, offset before, offset after) of every change of ``zone``'s UTC offset in 1900-2100, from
    zoneinfo: weekly samples, each change then bisected to the second (two changes that undo each other
    within a week are not seen). A dialect asks, at compile time, whether a zone has gaps or repeated hours,
    so that the SQL handles them where they exist and costs nothing where they do not."""
    tz = zone_info(zone)
    changes = []
    step = dt.timedelta(days=7)
    t, before = _SCAN[0], _SCAN[0].astimezone(tz).utcoffset()
    while t < _SCAN[1]:
        after = (t + step).astimezone(tz).utcoffset()
        if after != before:
            lo, hi = t, t + step
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) // 2
                if mid.astimezone(tz).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            changes.append((hi.replace(microsecond=0), before, after))
        t, before = t + step, after
    return tuple(changes)


@functools.cache
def naive_offset_changes(zone: str) -> tuple[tuple[dt.datetime, dt.timedelta, dt.timedelta], ...]:
    """:func:`offset_changes` with each instant a naive UTC time, as the SQL compares them (sorted)."""
    return tuple((instant.replace(tzinfo=None), before, after) for instant, before, after in offset_changes(zone))


_LATEST = dt.timedelta.max  # sorts after any offset in a (time, offset, offset) tuple


def changes_within(zone: str, lo: dt.datetime, hi: dt.datetime) -> tuple[tuple[dt.datetime, dt.timedelta, dt.timedelta], ...]:
    """:func:`naive_offset_changes` strictly between ``lo`` and ``hi`` (naive UTC), found by bisection: a
    zone has some three hundred, a query's range a few."""
    every = naive_offset_changes(zone)
    return every[bisect.bisect_right(every, (lo, _LATEST)):bisect.bisect_left(every, (hi,))]


def usual_times() -> tuple[dt.datetime, dt.datetime]:
    """Where a scan's rows usually are when the query does not limit them (naive UTC): from 1970 to the end of next
    year. Period cutting adds a zone's offsets in this range, and converts the rare row outside it."""
    return dt.datetime(1970, 1, 1), dt.datetime(dt.date.today().year + 2, 1, 1)


def has_gaps(zone: str) -> bool:
    """Whether some wall times of ``zone`` never happen (a clock moved forward)."""
    return any(after > before for _, before, after in offset_changes(zone))


def longest_fold(zone: str) -> dt.timedelta:
    """The longest stretch of wall time ``zone`` repeats (a clock moved back); zero when it never does."""
    return max((before - after for _, before, after in offset_changes(zone) if before > after),
               default=dt.timedelta(0))


@functools.cache
def day_moving_gaps(zone: str) -> tuple[tuple[dt.datetime, dt.datetime, dt.timedelta], ...]:
    """(first wall time, wall time after, length) of the gaps of ``zone`` whose times, read with the offset
    before the gap, land on another day: a gap [T + before, T + after) goes to [T + after, T + 2 * after -
    before). Rare (Berlin's of 1916, 23:00 -> 00:00; Samoa's skipped day of 2011)."""
    gaps = []
    for instant, before, after in offset_changes(zone):
        if after > before:
            start = (instant + before).replace(tzinfo=None)
            end = (instant + after).replace(tzinfo=None)
            if start.date() != (end + (after - before) - dt.timedelta(microseconds=1)).date():
                gaps.append((start, end, after - before))
    return tuple(gaps)


def gap_moves_day(zone: str) -> bool:
    """Whether some wall time of ``zone`` that never happens is read as a time of another day."""
    return bool(day_moving_gaps(zone))


#: the most period starts a range is cut at by comparisons alone: a balanced tree of 31 is five comparisons a row,
#: which cost less than picking an offset among a few and reading the year and month of the shifted time (1M
#: rows in months, America/New_York over two years: 1.31x the UTC query, against 1.5x); 63 cost 1.8x
MOST_STARTS = 31


@functools.lru_cache(maxsize=512)
def period_starts(calendar: Calendar, grain: str, within: tuple[dt.datetime, dt.datetime],
                  most: int = MOST_STARTS) -> tuple[int, tuple[tuple[dt.datetime, int], ...]] | None:
    """The periods of ``calendar`` that times in ``within`` (naive UTC) fall in, as the index of the first one
    and the UTC instant (naive) each later one starts at, with its index: a time's period is then the last
    start at or before it, with no conversion per row.

    None where that is not the cheaper cut: the zone keeps one offset over ``within`` (one addition costs less
    than comparisons), more than ``most`` periods start in it, or a clock moved back across midnight there
    (a repeated hour that goes back to the day before: a time's local day does not only grow with it), or
    ``within`` is in one period.
    """
    lo, hi = within
    tz = zone_info(calendar.timezone)
    every = naive_offset_changes(calendar.timezone)
    changes = changes_within(calendar.timezone, lo, hi)
    if not changes:
        return None
    tick = dt.timedelta(microseconds=1)
    if any((instant + after).date() < (instant - tick + before).date() for instant, before, after in changes):
        return None

    def local_day(naive_utc: dt.datetime) -> dt.date:
        return naive_utc.replace(tzinfo=dt.timezone.utc).astimezone(tz).date()

    try:
        first, last = index_of(local_day(lo), grain, calendar), index_of(local_day(hi), grain, calendar)
        if not first < last <= first + most:  # one period: a constant would be read as GROUP BY's position
            return None
        starts = tuple((_first_instant(start_date(p, grain, calendar), tz, every, local_day), p)
                       for p in range(first + 1, last + 1))
    except (OverflowError, ValueError):  # a range at the ends of the calendar (years 1 and 9999)
        return None
    return first, starts


def _first_instant(day: dt.date, tz: dt.tzinfo, changes: Sequence[tuple[dt.datetime, dt.timedelta, dt.timedelta]],
                   local_day: Callable[[dt.datetime], dt.date]) -> dt.datetime:
    """The first UTC instant (naive) whose local day is ``day`` or later. It is local midnight less the offset
    in force then, or an offset change (midnight skipped by a gap): the earliest of those candidates that is
    on ``day`` or later is it, as a time's local day only grows with it (``period_starts`` checks)."""
    midnight = dt.datetime.combine(day, dt.time())
    offsets = {midnight.replace(tzinfo=tz, fold=fold).utcoffset() for fold in (0, 1)}
    two_days = dt.timedelta(days=2)
    near = changes[bisect.bisect_left(changes, (midnight - two_days,)):
                   bisect.bisect_right(changes, (midnight + two_days,))]
    for _, before, after in near:
        offsets.update((before, after))
    candidates = [midnight - offset for offset in offsets if offset is not None]
    candidates += [instant for instant, _, _ in near]
    on_or_after = [t for t in candidates if local_day(t) >= day]
    if not on_or_after:
        raise ValueError(day)  # not expected: the caller then cuts by offsets
    return min(on_or_after)
