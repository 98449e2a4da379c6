"""previous(x, n, unit), growth(x, n, unit) and period_days() on every engine, worked by hand.

The orders: on each day d of February 2024, March 2024 and March 2023, d orders at 10:00 (so a
day's count is its day of the month, and any count says which day it came from).

- A month back from 2024-03-29, -30 and -31 is 2024-02-29 (the month's last day), 29 orders;
  from 2024-03-28 it is 2024-02-28, 28 orders. A year back is the same day of March 2023.
- At week grain (Monday weeks) the week of 2024-03-25 holds 25 + ... + 31 = 196 orders; a year
  before its first day is Saturday 2023-03-25, in the week of Monday 2023-03-20: 20 + ... + 26 =
  161. With Sunday weeks: 24 + ... + 30 = 189, and 2023-03-24 is in the week of Sunday 2023-03-19:
  19 + ... + 25 = 154.
- February 2024 has 29 days and 1 + ... + 29 = 435 orders: 15 a day.
"""

from __future__ import annotations

import datetime as dt

import pytest

from support.engines import EXECUTED as ENGINES

DAYS = [dt.date(2024, 2, d) for d in range(1, 30)] + [dt.date(2024, 3, d) for d in range(1, 32)] + \
    [dt.date(2023, 3, d) for d in range(1, 32)]
ROWS = list(enumerate(dt.datetime(day.year, day.month, day.day, 10) for day in DAYS for _ in range(day.day)))

DEFINITIONS = """
datasets:
  orders:
    table: orders
    time: ordered_at
kpis:
  placed: {dataset: orders, formula: count()}
  month_ago: {dataset: orders, formula: "previous(count(), 1, month)"}
  year_ago: {dataset: orders, formula: "previous(count(), 1, year)"}
  week_ago: {dataset: orders, formula: "previous(count(), 1, week)"}
  quarter_ago: {dataset: orders, formula: "previous(count(), 1, quarter)"}
  two_steps: {dataset: orders, formula: "previous(previous(count(), 1, year), 2)"}
  monthly_growth: {dataset: orders, formula: "growth(count(), 1, month)"}
  days: {formula: period_days()}
  per_day: {dataset: orders, formula: count() / period_days()}
"""


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


def _project(make_project, engine: str, calendar: str = ""):
    return make_project(DEFINITIONS, {"orders": (["order_id", "ordered_at"], ROWS)}, engine=engine,
                        extra_config=calendar)


def test_the_orders_are_as_described():
    assert len(ROWS) == 435 + 496 + 496


def test_a_month_back_from_a_day_is_the_same_day_or_the_months_last(make_project, engine):
    result = _project(make_project, engine).query(
        ["placed", "month_ago", "year_ago", "week_ago", "two_steps", "monthly_growth"],
        grain="day", start="2024-03-28", end="2024-03-31")
    assert result.rows == [
        # two_steps: a year back, then 2 days back (2023-03-26 .. 2023-03-29)
        ("2024-03-28", 28, 28, 28, 21, 26, 0.0),
        ("2024-03-29", 29, 29, 29, 22, 27, 0.0),
        ("2024-03-30", 30, 29, 30, 23, 28, pytest.approx(1 / 29)),
        ("2024-03-31", 31, 29, 31, 24, 29, pytest.approx(2 / 29)),
    ]


def test_a_month_back_reads_days_before_the_reported_ones(make_project, engine):
    # 2024-03-01 reads 2024-02-01 (1 order), 2023-03-01 a year back; a week back is 2024-02-23
    result = _project(make_project, engine).query(["month_ago", "year_ago", "week_ago"], grain="day",
                                                  start="2024-03-01", end="2024-03-01")
    assert result.rows == [("2024-03-01", 1, 1, 23)]


@pytest.mark.parametrize(("week_start", "week", "orders", "year_ago"), [
    ("monday", "2024-03-25", 196, 161),
    ("sunday", "2024-03-24", 189, 154),
])
def test_a_year_back_from_a_week_is_the_week_holding_that_day(make_project, engine, week_start, week, orders,
                                                                year_ago):
    project = _project(make_project, engine, f"calendar:\n  week_start: {week_start}\n")
    result = project.query(["placed", "year_ago"], grain="week", start=week, end=week)
    assert result.rows == [(week, orders, year_ago)]


def test_units_of_the_grain_or_longer_at_month_grain(make_project, engine):
    result = _project(make_project, engine).query(["placed", "year_ago", "quarter_ago", "month_ago"],
                                                  start="2024-02-01", end="2024-03-31")
    # March 2023 has 496 orders; a quarter before March 2024 is December 2023 (none)
    assert result.rows == [("2024-02-01", 435, 0, 0, 0), ("2024-03-01", 496, 496, 0, 435)]


def test_period_days_per_grain(make_project, engine):
    project = _project(make_project, engine, "calendar:\n  fiscal_year_start: 4\n")
    assert project.query(["days", "per_day"], start="2024-02-01", end="2024-03-31").rows == [
        ("2024-02-01", 29, 15.0), ("2024-03-01", 31, 16.0)]  # 496 / 31
    assert project.query(["days"], grain="quarter", start="2024-01-01", end="2024-03-31").rows == [
        ("2024-01-01", 91)]
    assert project.query(["days"], grain="week", start="2024-03-04", end="2024-03-04").rows == [
        ("2024-03-04", 7)]
    # the fiscal year 2023 runs from 2023-04-01 to 2024-03-31, February 29th included
    assert project.query(["days"], grain="fiscal_year", start="2024-03-31", end="2024-03-31").rows == [
        ("2023-04-01", 366)]


def test_period_days_at_grain_all(make_project, engine):
    project = _project(make_project, engine)
    # the range itself: 20 days of February from the 10th, 5 of March
    assert project.query(["days"], grain="all", start="2024-02-10", end="2024-03-05").rows == [(25,)]
    # from the first to the last day with rows: 2023-03-01 .. 2024-03-31
    assert project.query(["days", "placed"], grain="all").rows == [(397, 1427)]
    # a bound given, the other from the data
    assert project.query(["days", "placed"], grain="all", start="2024-03-15").rows == [(17, 391)]  # 15 + ... + 31
    assert project.query(["days", "placed"], grain="all", end="2023-03-10").rows == [(10, 55)]
