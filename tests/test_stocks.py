"""Stocks (at=start / at=end) taken just before an instant, on every engine, timestamps and dates.

A stock is taken just before instant t: the rows with from < t and (to null or to >= t). A row that
starts exactly at a period's first instant is new in that period, not in its opening stock; one
that ends exactly then is in the opening stock and ends in that period. So for every period:
opening stock + new - ended = closing stock.

The subscriptions (month grain, worked by hand below):

    id  from                  to
    a   2025-01-01 00:00      2025-02-01 00:00     starts and ends exactly on month starts
    b   2024-12-31 23:59:59   2025-01-01 00:00     ends exactly on January's first instant
    c   2025-01-15 00:00      -
    d   2025-02-01 00:00      2025-03-01 00:00
    e   2025-03-01 00:00      2025-03-01 00:00     ends when it starts: never active
    f   2025-02-10 00:00      2025-02-20 00:00     inside February

With DATE columns every event is at midnight: the same rows as dates (b from 2024-12-31 to 2025-01-01).
"""

from __future__ import annotations

import datetime as dt

import pytest

from support.engines import EXECUTED as ENGINES

T, D = dt.datetime, dt.date
GRAINS = ("day", "week", "month", "quarter", "year")

SPANS = [
    ("a", T(2025, 1, 1), T(2025, 2, 1)),
    ("b", T(2024, 12, 31, 23, 59, 59), T(2025, 1, 1)),
    ("c", T(2025, 1, 15), None),
    ("d", T(2025, 2, 1), T(2025, 3, 1)),
    ("e", T(2025, 3, 1), T(2025, 3, 1)),
    ("f", T(2025, 2, 10), T(2025, 2, 20)),
]
DATE_SPANS = [(i, D(2024, 12, 31) if i == "b" else s.date(), e.date() if e else None) for i, s, e in SPANS]

DEFINITIONS = """
datasets:
  subs:
    table: subs
    time: started_at
    active: {from: started_at, to: ended_at}
kpis:
  opening: {dataset: subs, formula: "count(*, at=start)"}
  closing: {dataset: subs, formula: "count(*, at=end)"}
  new: {dataset: subs, formula: "count(where ended_at is null or ended_at > started_at)"}
  ended: {dataset: subs, formula: "count(*, time=ended_at where ended_at > started_at)"}
"""
NAMES = ["opening", "new", "ended", "closing"]


def _project(make_project, engine: str, spans):
    return make_project(DEFINITIONS, {"subs": (["sub_id", "started_at", "ended_at"], spans)}, engine=engine)


@pytest.mark.parametrize("spans", [SPANS, DATE_SPANS], ids=["timestamps", "dates"])
@pytest.mark.parametrize("engine", ENGINES)
def test_stocks_just_before_each_instant_by_month(make_project, engine, spans):
    project = _project(make_project, engine, spans)
    result = project.query(NAMES, start="2025-01-01", end="2025-03-31")
    # Jan: before Jan 1 only b (a starts exactly then); new a, c; ended b (exactly Jan 1); before Feb 1: a, c
    # Feb: a, c | new d, f | ended a (exactly Feb 1), f | before Mar 1: c, d (d ends exactly Mar 1)
    # Mar: c, d | new none (e is never active) | ended d | before Apr 1: c
    assert result.rows == [
        ("2025-01-01", 1, 2, 1, 2),
        ("2025-02-01", 2, 2, 2, 2),
        ("2025-03-01", 2, 0, 1, 1),
    ]


@pytest.mark.parametrize("spans", [SPANS, DATE_SPANS], ids=["timestamps", "dates"])
@pytest.mark.parametrize("engine", ENGINES)
def test_opening_plus_new_minus_ended_is_closing_at_every_grain(make_project, engine, spans):
    project = _project(make_project, engine, spans)
    for grain in GRAINS:
        result = project.query(NAMES, grain=grain, start="2024-12-01", end="2025-03-31")
        assert result.rows, grain
        for period, opening, new, ended, closing in result.rows:
            assert opening + new - ended == closing, (grain, period)
        # consecutive periods: a period closes with the stock the next one opens with
        for before, after in zip(result.rows, result.rows[1:]):
            assert before[4] == after[1], (grain, after[0])
    # one whole year: before 2024-01-01 nobody; new b (2024) | before 2025-01-01: b
    assert project.query(NAMES, grain="year", start="2024-01-01", end="2025-12-31").rows == [
        ("2024-01-01", 0, 1, 0, 1),
        ("2025-01-01", 1, 4, 4, 1),  # new a, c, d, f; ended b, a, d, f; before 2026: c
    ]
