"""The UTC instants a calendar's periods start at (``zone_changes.period_starts``), which cut rows into periods by
comparisons alone. Each start is checked against the plain definition of a row's period: the period of its
local day, from ``zoneinfo``, for times every 15 minutes and one microsecond either side of each start, in zones
whose clocks skip midnight, skip a whole day, or move by 30 and 45 minutes."""

from __future__ import annotations

import bisect
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kpi_engine.compiler.periods import Calendar, index_of
from kpi_engine.compiler.zone_changes import period_starts

T = dt.datetime
TICK = dt.timedelta(microseconds=1)


def local_period(naive_utc: dt.datetime, grain: str, calendar: Calendar) -> int:
    day = naive_utc.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(calendar.timezone)).date()
    return index_of(day, grain, calendar)


CASES = [
    # zone, grain, range (naive UTC), calendar options
    ("America/New_York", "month", (T(2024, 1, 1), T(2025, 12, 31, 23)), {}),
    ("America/New_York", "day", (T(2025, 3, 1), T(2025, 3, 20)), {}),
    ("America/New_York", "week", (T(2025, 2, 1), T(2025, 4, 20)), {"week_start": "sunday"}),
    ("Europe/Lisbon", "fiscal_quarter", (T(2020, 1, 1), T(2026, 1, 1)), {"fiscal_year_start": 4}),
    ("Europe/Lisbon", "day", (T(2025, 10, 20), T(2025, 11, 5)), {}),
    ("Asia/Kathmandu", "day", (T(1985, 12, 20), T(1986, 1, 10)), {}),  # +5:30 to +5:45 on 1 January 1986
    ("America/Havana", "day", (T(2024, 3, 5), T(2024, 3, 15)), {}),  # 00:00 -> 01:00 on 10 March: no midnight
    ("America/Santiago", "day", (T(2024, 8, 25), T(2024, 9, 15)), {}),  # 24:00 -> 01:00 on 7 September
    ("Pacific/Apia", "day", (T(2011, 12, 25), T(2012, 1, 5)), {}),  # 30 December 2011 never happened
    ("Australia/Lord_Howe", "quarter", (T(2023, 1, 1), T(2026, 1, 1)), {}),  # 30-minute DST
]


@pytest.mark.parametrize(("zone", "grain", "within", "options"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_each_time_falls_in_the_period_of_its_local_day(zone, grain, within, options):
    calendar = Calendar(timezone=zone, **options)
    cut = period_starts(calendar, grain, within)
    assert cut is not None
    first, starts = cut
    instants = [instant for instant, _ in starts]
    assert instants == sorted(instants)

    def by_starts(t: dt.datetime) -> int:
        k = bisect.bisect_right(instants, t)
        return first if k == 0 else starts[k - 1][1]

    times = []
    t = within[0]
    while t < within[1]:
        times.append(t)
        t += dt.timedelta(minutes=15)
    times += [s + d for s in instants for d in (-TICK, dt.timedelta(0), TICK)]
    for t in times:
        if within[0] <= t < within[1]:
            assert by_starts(t) == local_period(t, grain, calendar), t


def test_the_skipped_day_of_samoa_is_an_empty_period():
    # Pacific/Apia went from UTC-10 to UTC+14 at 2011-12-30 10:00 UTC: 29 December 23:59:59 local was followed
    # by 31 December 00:00, so 30 and 31 December start at the same instant
    first, starts = period_starts(Calendar(timezone="Pacific/Apia"), "day", (T(2011, 12, 28), T(2012, 1, 2)))
    by_day = {index: instant for instant, index in starts}
    dec30 = index_of(dt.date(2011, 12, 30), "day")
    assert by_day[dec30] == by_day[dec30 + 1] == T(2011, 12, 30, 10)


def test_not_the_cheaper_cut():
    sao_paulo = Calendar(timezone="America/Sao_Paulo")
    # no offset change in the range: one addition costs less than comparisons
    assert period_starts(sao_paulo, "month", (T(2024, 1, 1), T(2026, 1, 1))) is None
    new_york = Calendar(timezone="America/New_York")
    # local 1 March 01:00 to 1 April 02:00: 31 days start after the first (2 March to 1 April); a day more is 32
    assert period_starts(new_york, "day", (T(2025, 3, 1, 6), T(2025, 4, 1, 6))) is not None
    assert period_starts(new_york, "day", (T(2025, 3, 1, 6), T(2025, 4, 2, 6))) is None
    # one period only: nothing to compare with
    assert period_starts(new_york, "year", (T(2025, 2, 1), T(2025, 12, 1))) is None
    # St John's clocks went back from 00:01 on 25 October 1987 to 23:01 on the 24th (02:31 UTC): times of that
    # hour are of the 24th again after the 25th began, so no single instant separates the two days
    st_johns = Calendar(timezone="America/St_Johns")
    assert period_starts(st_johns, "day", (T(1987, 10, 20), T(1987, 10, 30))) is None
    assert local_period(T(1987, 10, 25, 2, 30), "day", st_johns) == index_of(dt.date(1987, 10, 25), "day")
    assert local_period(T(1987, 10, 25, 2, 31), "day", st_johns) == index_of(dt.date(1987, 10, 24), "day")
