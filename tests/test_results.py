"""Numbers on real engines, from small datasets whose every expected value is worked out by hand.

The same tests run on DuckDB and on SQLite (timestamps as ISO text, booleans as 0/1).

The tickets (spam marked *; customers 1-6 exist, 9 does not):

    id  created_at            resolved_at        channel  status    handle  customer
    1   2025-01-03 09:00      2025-01-04 09:00   email    resolved  100     1
    2   2025-01-15 14:30      -                  chat     open      200     2
    3   2025-01-31 23:59:59   2025-02-02 00:00   email    resolved  -       1
    4   2025-03-01 00:00:00   2025-03-01 06:00   chat     resolved  300     3
    5*  2025-03-10 12:00      2025-03-11 00:00   email    resolved  400     2
    6   2025-03-20 08:00      -                  -        open      500     -
    7   2025-04-02 10:00      2025-04-02 11:00   chat     resolved  50      3
    8   2025-04-30 23:00      2025-05-01 01:00   email    closed    150     9
    9   2025-04-15 12:00      -                  chat     open      100     2

Non-spam tickets per month: Jan {1,2,3}, Feb {}, Mar {4,6}, Apr {7,8,9}.

The customers (active from signup_at until churned_at):

    id  signup_at            churned_at           plan
    1   2024-12-15 10:00     -                    basic
    2   2025-01-01 00:00:00  2025-03-01 00:00:00  pro         (both exactly on month starts)
    3   2025-01-10 00:00     2025-01-20 00:00     pro         (starts and ends inside January)
    4   2025-02-05 00:00     2025-02-05 00:00     basic       (ends when it starts: never active)
    5   2025-02-28 23:00     2025-04-10 00:00     enterprise
    6   2025-03-31 23:59:59  -                    -
"""

from __future__ import annotations

import datetime as dt

import pytest

from support.engines import EXECUTED as ENGINES

T = dt.datetime

TICKETS = (
    ["ticket_id", "created_at", "resolved_at", "channel", "status", "handle_seconds", "is_spam", "customer_id"],
    [
        (1, T(2025, 1, 3, 9), T(2025, 1, 4, 9), "email", "resolved", 100, False, 1),
        (2, T(2025, 1, 15, 14, 30), None, "chat", "open", 200, False, 2),
        (3, T(2025, 1, 31, 23, 59, 59), T(2025, 2, 2), "email", "resolved", None, False, 1),
        (4, T(2025, 3, 1), T(2025, 3, 1, 6), "chat", "resolved", 300, False, 3),
        (5, T(2025, 3, 10, 12), T(2025, 3, 11), "email", "resolved", 400, True, 2),
        (6, T(2025, 3, 20, 8), None, None, "open", 500, False, None),
        (7, T(2025, 4, 2, 10), T(2025, 4, 2, 11), "chat", "resolved", 50, False, 3),
        (8, T(2025, 4, 30, 23), T(2025, 5, 1, 1), "email", "closed", 150, False, 9),
        (9, T(2025, 4, 15, 12), None, "chat", "open", 100, False, 2),
    ],
)
CUSTOMERS = (
    ["customer_id", "signup_at", "churned_at", "plan"],
    [
        (1, T(2024, 12, 15, 10), None, "basic"),
        (2, T(2025, 1, 1), T(2025, 3, 1), "pro"),
        (3, T(2025, 1, 10), T(2025, 1, 20), "pro"),
        (4, T(2025, 2, 5), T(2025, 2, 5), "basic"),
        (5, T(2025, 2, 28, 23), T(2025, 4, 10), "enterprise"),
        (6, T(2025, 3, 31, 23, 59, 59), None, None),
    ],
)

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
      plan: customer.plan
    joins:
      customer:
        dataset: customers
        on: customer_id
  customers:
    table: customers
    time: signup_at
    active: {from: signup_at, to: churned_at}
    dimensions:
      plan: plan
kpis:
  volume: {dataset: tickets, formula: count(), filter: not is_spam}
  all_tickets: {dataset: tickets, formula: count()}
  resolved: {dataset: tickets, formula: "count(where status = 'resolved')"}
  handled: {dataset: tickets, formula: count(handle_seconds), filter: not is_spam}
  total_handle: {dataset: tickets, formula: sum(handle_seconds), filter: not is_spam}
  aht: {dataset: tickets, formula: avg(handle_seconds), filter: not is_spam}
  min_h: {dataset: tickets, formula: min(handle_seconds), filter: not is_spam}
  max_h: {dataset: tickets, formula: max(handle_seconds), filter: not is_spam}
  med_h: {dataset: tickets, formula: median(handle_seconds), filter: not is_spam}
  p90_h: {dataset: tickets, formula: "percentile(handle_seconds, 0.9)", filter: not is_spam}
  channels: {dataset: tickets, formula: count_distinct(channel)}
  resolved_share:
    dataset: tickets
    formula: "count(where status = 'resolved') / count()"
    filter: not is_spam
  solved_in_period: {dataset: tickets, formula: "count(*, time=resolved_at)", filter: not is_spam}
  handle_per_ticket: {formula: total_handle / volume}
  prev_volume: {formula: previous(volume)}
  volume_growth: {formula: growth(volume)}
  volume_2m: {formula: "rolling(volume, 2)"}
  aht_2m: {formula: "rolling(aht, 2)"}
  volume_cum: {formula: cumulative(volume)}
  volume_ytd: {formula: "to_date(volume, year)"}
  volume_qtd: {formula: "to_date(volume, quarter)"}
  channel_share: {dataset: tickets, formula: count() / total(count()), filter: not is_spam}
  customers_seen: {dataset: tickets, formula: count_distinct(customer_id)}
  customers_2m: {formula: "rolling(customers_seen, 2)"}
  customers_cum: {formula: cumulative(customers_seen)}
  med_h_2m: {formula: "rolling(med_h, 2)"}
  per_new_customer: {dataset: tickets, formula: count() / count(customers.*), filter: not is_spam}
  upper_e: {dataset: tickets, formula: "count(where channel like 'E%')"}
  lower_e: {dataset: tickets, formula: "count(where channel like 'e%')"}
  active_start: {dataset: customers, formula: "count(*, at=start)"}
  active_end: {dataset: customers, formula: "count(*, at=end)"}
  new: {dataset: customers, formula: count()}
  churned: {dataset: customers, formula: "count(*, time=churned_at)"}
  churn_rate: {dataset: customers, formula: "count(*, time=churned_at) / count(*, at=start)"}
  retention: {dataset: customers, formula: "(count(*, at=end) - count()) / count(*, at=start)"}
  plans_active: {dataset: customers, formula: "count_distinct(plan, at=end)"}
"""

TABLES = {"tickets": TICKETS, "customers": CUSTOMERS}
JAN, FEB, MAR, APR, MAY = "2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01", "2025-05-01"


@pytest.fixture(params=ENGINES)
def project(request, make_project):
    return make_project(DEFINITIONS, TABLES, engine=request.param)


def rows(result):
    return [tuple(pytest.approx(v, rel=1e-9) if isinstance(v, float) else v for v in row) for row in result.rows]


def test_every_aggregate_by_month(project):
    names = ["volume", "all_tickets", "resolved", "handled", "total_handle", "aht", "min_h", "max_h", "med_h",
             "p90_h", "channels", "resolved_share"]
    result = project.query(names)
    assert result.columns == ["period", *names]
    assert rows(result) == [
        # volume: 1,2,3; all rows; resolved 1,3; handle 100,200,(null): 2 values, sum 300, avg 150,
        # median of 100,200 = 150; p90 = 100 + 0.9*(200-100) = 190; channels email, chat; 2 of 3 resolved
        (JAN, 3, 3, 2, 2, 300, 150.0, 100, 200, 150.0, 190.0, 2, 2 / 3),
        # no tickets: counts and sums 0, the rest null
        (FEB, 0, 0, 0, 0, 0, None, None, None, None, None, 0, None),
        # volume 4,6 (5 is spam); all 4,5,6; resolved 4,5; handle 300,500: avg 400, p90 = 300 + 0.9*200 = 480;
        # channels chat, email (null is not a value); 1 of 2 non-spam resolved
        (MAR, 2, 3, 2, 2, 800, 400.0, 300, 500, 400.0, 480.0, 2, 0.5),
        # 7,8,9; resolved 7 only (8 is closed); handle 50,150,100: sum 300, avg 100, median 100,
        # p90: h = 2*0.9 = 1.8 -> 100 + 0.8*(150-100) = 140; 1 of 3 resolved
        (APR, 3, 3, 1, 3, 300, 100.0, 50, 150, 100.0, 140.0, 2, 1 / 3),
    ]


def test_by_dimension_lists_every_period_for_every_combination(project):
    result = project.query(["volume", "resolved_share"], by=["channel"])
    assert result.columns == ["period", "channel", "volume", "resolved_share"]
    assert rows(result) == [
        (JAN, "chat", 1, 0.0), (JAN, "email", 2, 1.0), (JAN, None, 0, None),
        (FEB, "chat", 0, None), (FEB, "email", 0, None), (FEB, None, 0, None),
        (MAR, "chat", 1, 1.0), (MAR, "email", 0, None), (MAR, None, 1, 0.0),  # 5 is spam
        (APR, "chat", 2, 0.5), (APR, "email", 1, 0.0), (APR, None, 0, None),
    ]


def test_where_over_dimensions_and_bounds_from_the_rows_it_keeps(project):
    # non-spam email tickets: 1, 3 (January) and 8 (April)
    result = project.query(["volume"], where="channel = 'email'")
    assert rows(result) == [(JAN, 2), (FEB, 0), (MAR, 0), (APR, 1)]


def test_from_to_reports_whole_periods_even_without_rows(project):
    assert rows(project.query(["volume", "aht"], start="2025-02-01", end="2025-03-31")) == [
        (FEB, 0, None), (MAR, 2, 400.0)]
    assert rows(project.query(["volume", "aht"], start="2025-06-10", end="2025-07-01")) == [
        ("2025-06-01", 0, None), ("2025-07-01", 0, None)]


def test_time_column_of_an_aggregate(project):
    # resolved_at months of non-spam tickets: 1 Jan, 3 Feb, 4 Mar, 7 Apr, 8 May (2025-05-01 01:00):
    # the latest period with rows is May, where nothing was created
    assert rows(project.query(["volume", "solved_in_period"])) == [
        (JAN, 3, 1), (FEB, 0, 1), (MAR, 2, 1), (APR, 3, 1), (MAY, 0, 1)]


def test_derived_kpi(project):
    # total_handle / volume: 300/3, 0/0, 800/2, 300/3
    assert rows(project.query(["handle_per_ticket"])) == [(JAN, 100.0), (FEB, None), (MAR, 400.0), (APR, 100.0)]


def test_windows_read_rows_before_from(project):
    names = ["volume", "prev_volume", "volume_growth", "volume_2m", "aht_2m", "volume_cum", "volume_ytd", "volume_qtd"]
    result = project.query(names, start="2025-03-01", end="2025-04-30")
    assert rows(result) == [
        # previous = February (0); growth (2-0)/0 = null; rolling Feb+Mar = 0+2;
        # aht over Feb..Mar rows: 300, 500 -> 400; cumulative = year-to-date = quarter-to-date = 3+0+2
        (MAR, 2, 0, None, 2, 400.0, 5, 5, 5),
        # previous 2; growth (3-2)/2; rolling 2+3; aht over Mar..Apr rows 300,500,50,150,100 = 1100/5 = 220
        # (the average of the two monthly averages would be 250); cumulative 3+0+2+3; Q2 so far: 3
        (APR, 3, 2, 0.5, 5, 220.0, 8, 8, 3),
    ]


def test_previous_keeps_the_dimension_values(project):
    result = project.query(["volume", "prev_volume"], by=["channel"], start="2025-03-01", end="2025-04-30")
    assert rows(result) == [
        (MAR, "chat", 1, 0), (MAR, "email", 0, 0), (MAR, None, 1, 0),
        (APR, "chat", 2, 1), (APR, "email", 1, 0), (APR, None, 0, 1),
    ]


def test_total_for_shares(project):
    result = project.query(["channel_share"], by=["channel"])
    assert rows(result) == [
        (JAN, "chat", 1 / 3), (JAN, "email", 2 / 3), (JAN, None, 0.0),
        (FEB, "chat", None), (FEB, "email", None), (FEB, None, None),
        (MAR, "chat", 0.5), (MAR, "email", 0.0), (MAR, None, 0.5),
        (APR, "chat", 2 / 3), (APR, "email", 1 / 3), (APR, None, 0.0),
    ]
    # without --by, total(x) is x: a share of 100% where there are tickets
    assert rows(project.query(["channel_share"])) == [(JAN, 1.0), (FEB, None), (MAR, 1.0), (APR, 1.0)]


def test_distinct_counts_and_medians_under_windows(project):
    # customer ids of all tickets: Jan {1,2}, Feb {}, Mar {3,2} (null not counted), Apr {3,9,2}
    result = project.query(["customers_seen", "customers_2m", "customers_cum", "med_h_2m"],
                           start="2025-02-01", end="2025-04-30")
    assert rows(result) == [
        # rolling Jan+Feb {1,2}; cumulative {1,2}; median of Jan+Feb handles (100, 200) = 150
        (FEB, 0, 2, 2, 150.0),
        # Feb+Mar {2,3}; cumulative {1,2,3}; Feb+Mar handles 300, 500 -> 400
        (MAR, 2, 2, 3, 400.0),
        # Mar+Apr {2,3,9}; cumulative {1,2,3,9}; Mar+Apr handles 50,100,150,300,500 -> 150
        (APR, 3, 3, 4, 150.0),
    ]


def test_grains(project):
    assert rows(project.query(["volume"], grain="quarter")) == [("2025-01-01", 5), ("2025-04-01", 3)]
    assert rows(project.query(["volume"], grain="year")) == [("2025-01-01", 8)]
    all_grain = project.query(["volume", "aht"], grain="all")
    assert all_grain.columns == ["volume", "aht"]
    # handles 100, 200, 300, 500, 50, 150, 100 = 1400 over 7
    assert rows(all_grain) == [(8, 200.0)]
    # sorted 50, 100, 100, 150, 200, 300, 500: the median is the 4th, 150;
    # p90: h = 6*0.9 = 5.4 -> 300 + 0.4*(500-300) = 380 (SQLite computes these from row numbers)
    assert rows(project.query(["med_h", "p90_h"], grain="all")) == [(150.0, 380.0)]
    assert rows(project.query(["volume"], grain="all", start="2025-01-01", end="2025-01-31")) == [(3,)]
    # ISO weeks: 2025-01-03 is in the week of Monday 2024-12-30; 2025-01-15 in the week of the 13th;
    # --to 2025-01-20 (a Monday) reports that whole week
    assert rows(project.query(["volume"], grain="week", start="2025-01-01", end="2025-01-20")) == [
        ("2024-12-30", 1), ("2025-01-06", 0), ("2025-01-13", 1), ("2025-01-20", 0)]
    # ticket 4 opened at midnight exactly on March 1st
    assert rows(project.query(["volume"], grain="day", start="2025-02-28", end="2025-03-02")) == [
        ("2025-02-28", 0), ("2025-03-01", 1), ("2025-03-02", 0)]


def test_aggregate_over_another_dataset_does_not_take_the_filter(project):
    # non-spam tickets / signups: Jan 3/2 (customers 2, 3), Feb 0/2 (4, 5), Mar 2/1 (6), Apr 3/0
    assert rows(project.query(["per_new_customer"], start="2025-01-01", end="2025-04-30")) == [
        (JAN, 1.5), (FEB, 0.0), (MAR, 2.0), (APR, None)]


def test_like_is_case_sensitive_on_every_engine(project):
    # email tickets: 1, 3 in January
    assert rows(project.query(["upper_e", "lower_e"], start="2025-01-01", end="2025-01-31")) == [(JAN, 0, 2)]


def test_dimension_through_a_join(project):
    # plans of non-spam tickets: 1 basic, 2 pro, 3 basic | 4 pro, 6 no customer | 7 pro, 8 unknown customer, 9 pro
    result = project.query(["volume"], by=["plan"])
    assert rows(result) == [
        (JAN, "basic", 2), (JAN, "pro", 1), (JAN, None, 0),
        (FEB, "basic", 0), (FEB, "pro", 0), (FEB, None, 0),
        (MAR, "basic", 0), (MAR, "pro", 1), (MAR, None, 1),
        (APR, "basic", 0), (APR, "pro", 2), (APR, None, 1),
    ]


def test_stock_aggregates_at_period_boundaries(project):
    # a stock is taken just before an instant t: from < t <= to.
    # before 01-01 00:00: 1 (2 signs up exactly then: new in January) | before 02-01: 1, 2 (3 ended inside
    # January) | before 03-01: 1, 2 (2 churns exactly then: in the stock, churned in March), 5 |
    # before 04-01: 1, 5, 6 | before 05-01: 1, 6
    # signups: Jan 2, 3 | Feb 4, 5 | Mar 6;  churns: Jan 3 | Feb 4 | Mar 2 | Apr 5
    # start + new - churned = end: 1+2-1 = 2, 2+2-1 = 3, 3+1-1 = 3, 3+0-1 = 2
    names = ["active_start", "active_end", "new", "churned", "churn_rate", "retention"]
    result = project.query(names, start="2025-01-01", end="2025-04-30")
    assert rows(result) == [
        (JAN, 1, 2, 2, 1, 1 / 1, (2 - 2) / 1),
        (FEB, 2, 3, 2, 1, 1 / 2, (3 - 2) / 2),
        (MAR, 3, 3, 1, 1, 1 / 3, (3 - 1) / 3),
        (APR, 3, 2, 0, 1, 1 / 3, (2 - 0) / 3),
    ]


def test_a_stock_reads_the_change_exactly_at_the_instant_after_the_last_period(project):
    # at=end of February is taken just before 2025-03-01 00:00:00, when customer 2 churns: still active.
    # Active: 1, 2, 5 (on SQLite the churn is the text '2025-03-01 00:00:00')
    assert rows(project.query(["active_end"], start="2025-01-01", end="2025-02-28")) == [(JAN, 2), (FEB, 3)]


def test_stock_by_dimension_and_a_distinct_count_of_a_stock(project):
    # customers in some stock of Jan..Apr: 1 basic, 2 pro, 3 pro, 5 enterprise, 6 no plan
    # (4 is never active). At the end of Jan: 1, 2 | Feb: 1, 2, 5 | Mar: 1, 5, 6 | Apr: 1, 6
    result = project.query(["active_end"], by=["plan"], start="2025-01-01", end="2025-04-30")
    assert rows(result) == [
        (JAN, "basic", 1), (JAN, "enterprise", 0), (JAN, "pro", 1), (JAN, None, 0),
        (FEB, "basic", 1), (FEB, "enterprise", 1), (FEB, "pro", 1), (FEB, None, 0),
        (MAR, "basic", 1), (MAR, "enterprise", 1), (MAR, "pro", 0), (MAR, None, 1),
        (APR, "basic", 1), (APR, "enterprise", 0), (APR, "pro", 0), (APR, None, 1),
    ]
    # distinct plans of the customers active at each period's end (a null plan is not a value)
    assert rows(project.query(["plans_active"], start="2025-01-01", end="2025-04-30")) == [
        (JAN, 2), (FEB, 3), (MAR, 2), (APR, 1)]


def test_missing_bounds_come_from_the_stock_spans(project):
    # without --from/--to: the earliest signup is December 2024, the latest change April 2025
    result = project.query(["active_end"])
    # just before 2025-01-01: customer 1 (2 signs up exactly then) | before 02-01: 1, 2
    assert rows(result)[:2] == [("2024-12-01", 1), (JAN, 2)]
    assert [r[0] for r in result.rows] == ["2024-12-01", JAN, FEB, MAR, APR]


def test_result_helpers(project):
    result = project.query(["volume"], start="2025-01-01", end="2025-02-28")
    assert result.to_dicts() == [{"period": JAN, "volume": 3}, {"period": FEB, "volume": 0}]
    assert result.sql.lstrip().upper().startswith("WITH")


@pytest.mark.parametrize("engine", ENGINES)
def test_unicode_text_and_instants_just_before_midnight(make_project, engine):
    definitions = """
    datasets:
      places:
        table: places
        time: seen_at
    kpis:
      upper_ecole: {dataset: places, formula: "count(where upper(name) = 'ÉCOLE')"}
      lower_zurich: {dataset: places, formula: "count(where lower(name) = 'zürich')"}
      chars: {dataset: places, formula: sum(length(name))}
      weekdays: {dataset: places, formula: sum(day_of_week(seen_at))}
      hours: {dataset: places, formula: sum(hour(seen_at))}
    """
    places = (["name", "seen_at"], [("école", T(2024, 12, 31, 23, 59, 59, 999999)),  # a Tuesday (2), hour 23
                                    ("ZÜRICH", T(2025, 1, 1)),  # a Wednesday (3), hour 0
                                    ("東京", T(2025, 1, 5, 12))])  # a Sunday (7), hour 12
    project = make_project(definitions, {"places": places}, engine=engine)
    result = project.query(["upper_ecole", "lower_zurich", "chars", "weekdays", "hours"], grain="all")
    # 'école' upper is 'ÉCOLE'; 'ZÜRICH' lower is 'zürich'; 5 + 6 + 2 characters; 2 + 3 + 7; 23 + 0 + 12
    assert rows(result) == [(1, 1, 13, 12, 35)]
