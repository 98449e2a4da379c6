"""Tests of the plain-Python reference evaluator (tests/support/reference.py).

The reference checks the engine's numbers, so it must be trustworthy on its
own: every expected value below is worked out by hand from the rows written
in the test, with the arithmetic in a comment next to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from decimal import Decimal

import pytest

from support.reference import evaluate, load_definitions

D = dt.date
T = dt.datetime


def kpi(formula: str, dataset: str | None = "orders", **extra: Any) -> dict[str, Any]:
    body = {"formula": formula, **extra}
    if dataset is not None:
        body["dataset"] = dataset
    return body


# --- shared tiny datasets -------------------------------------------------------

DATASETS = {
    "orders": {
        "table": "orders",
        "time": "created_at",
        "dimensions": {
            "channel": "channel",
            "plan": "customer.plan",
            "size": "if(amount >= 30, 'big', 'small')",
        },
        "joins": {"customer": {"dataset": "customers", "on": ["customer_id", "id"]}},
    },
    "customers": {
        "table": "customers",
        "time": "signup_at",
        "active": {"from": "signup_at", "to": "churned_at"},
        "dimensions": {"plan": "plan"},
    },
}

ORDERS = [
    {"id": 1, "created_at": T(2025, 1, 5, 10), "channel": "web", "amount": 10, "customer_id": 1, "status": "paid"},
    {"id": 2, "created_at": T(2025, 1, 20, 9), "channel": "app", "amount": 30, "customer_id": 2, "status": "refunded"},
    {"id": 3, "created_at": T(2025, 1, 31, 23, 59), "channel": "web", "amount": None, "customer_id": 9, "status": "paid"},
    {"id": 4, "created_at": T(2025, 3, 1, 0, 0), "channel": "web", "amount": 20, "customer_id": 1, "status": None},
    {"id": 5, "created_at": T(2025, 3, 15), "channel": None, "amount": 40, "customer_id": 3, "status": "paid"},
    {"id": 6, "created_at": None, "channel": "web", "amount": 99, "customer_id": 1, "status": "paid"},
]
# Months: Jan = ids 1, 2, 3 (id 3 at 23:59 on Jan 31); Feb = none;
# Mar = ids 4 (exactly midnight Mar 1), 5; id 6 has no time: in no period.

CUSTOMERS = [
    # starts exactly at midnight on Jan 1, never ends
    {"id": 1, "signup_at": T(2025, 1, 1), "churned_at": None, "plan": "pro", "mrr": 100},
    # ends exactly at midnight on Mar 1
    {"id": 2, "signup_at": T(2025, 1, 15, 12), "churned_at": T(2025, 3, 1), "plan": "basic", "mrr": 50},
    # starts and ends inside February
    {"id": 3, "signup_at": T(2025, 2, 10), "churned_at": T(2025, 2, 20), "plan": "pro", "mrr": 70},
    # to == from: never active
    {"id": 4, "signup_at": T(2025, 2, 1), "churned_at": T(2025, 2, 1), "plan": "basic", "mrr": 10},
    # to < from: never active
    {"id": 5, "signup_at": T(2025, 5, 10), "churned_at": T(2025, 4, 1), "plan": "pro", "mrr": 5},
]

DATA = {"orders": ORDERS, "customers": CUSTOMERS}


def run(kpis: dict[str, dict[str, Any]], names: list[str] | None = None, *, datasets=None, data=None, **query):
    definitions = {"datasets": datasets or DATASETS, "kpis": kpis}
    return evaluate(definitions, data or DATA, names or list(kpis), **query)


Q1 = {"start": D(2025, 1, 1), "end": D(2025, 3, 31)}


# --- aggregates ----------------------------------------------------------------


def test_basic_aggregates_by_month_with_an_empty_month():
    columns, rows = run(
        {
            "n": kpi("count()"),
            "n_amount": kpi("count(amount)"),
            "total": kpi("sum(amount)"),
            "mean": kpi("avg(amount)"),
            "low": kpi("min(amount)"),
            "high": kpi("max(amount)"),
        },
        **Q1,
    )
    assert columns == ["period", "n", "n_amount", "total", "mean", "low", "high"]
    assert rows == [
        # Jan: ids 1,2,3 -> 3 rows; amounts 10, 30, null -> 2 non-null, sum 40, avg 40/2 = 20
        ("2025-01-01", 3, 2, 40, 20.0, 10, 30),
        # Feb: no rows -> counts and sums 0, the others null
        ("2025-02-01", 0, 0, 0, None, None, None),
        # Mar: ids 4 (20), 5 (40) -> sum 60, avg 30
        ("2025-03-01", 2, 2, 60, 30.0, 20, 40),
    ]
    assert isinstance(rows[0][1], int) and isinstance(rows[0][3], int) and isinstance(rows[0][4], float)


def test_count_distinct_and_sum_of_only_nulls():
    data = {"orders": [
        {"created_at": T(2025, 1, 1), "tag": "a", "x": None},
        {"created_at": T(2025, 1, 2), "tag": "b", "x": None},
        {"created_at": T(2025, 1, 3), "tag": "a", "x": None},
        {"created_at": T(2025, 1, 4), "tag": None, "x": None},
    ]}
    datasets = {"orders": {"time": "created_at"}}
    _, rows = run(
        {"d": kpi("count_distinct(tag)"), "c": kpi("count(tag)"), "s": kpi("sum(x)"), "a": kpi("avg(x)")},
        datasets=datasets, data=data,
    )
    # tags a, b, a, null -> 2 distinct, 3 non-null; x all null -> sum 0, avg null
    assert rows == [("2025-01-01", 2, 3, 0, None)]


def test_median_and_percentile_interpolate():
    data = {"orders": [
        {"created_at": T(2025, 1, d), "v": v} for d, v in [(1, 10), (2, 2), (3, 4), (4, 1), (5, 3), (6, None)]
    ] + [{"created_at": T(2025, 2, d), "v": v} for d, v in [(1, 4), (2, 1), (3, 3), (4, 2)]]}
    datasets = {"orders": {"time": "created_at"}}
    _, rows = run(
        {
            "med": kpi("median(v)"),
            "p90": kpi("percentile(v, 0.9)"),
            "p25": kpi("percentile(v, 0.25)"),
            "p100": kpi("percentile(v, 1)"),
        },
        datasets=datasets, data=data, start=D(2025, 1, 1), end=D(2025, 3, 31),
    )
    assert rows[0] == (
        "2025-01-01",
        # Jan sorted non-null: [1, 2, 3, 4, 10], n = 5
        3.0,  # median: h = 4 * 0.5 = 2 -> v[2] = 3
        pytest.approx(7.6),  # h = 4 * 0.9 = 3.6 -> v[3] + 0.6 * (v[4] - v[3]) = 4 + 0.6 * 6 = 7.6
        2.0,  # h = 4 * 0.25 = 1 -> v[1] = 2
        10.0,  # h = 4 -> v[4] = 10 (v[5] taken as v[4])
    )
    # Feb sorted [1, 2, 3, 4]: median h = 1.5 -> 2 + 0.5 * (3 - 2) = 2.5;
    # p90 h = 2.7 -> 3 + 0.7 * 1 = 3.7; p25 h = 0.75 -> 1 + 0.75 * 1 = 1.75; p100 -> 4
    assert rows[1] == ("2025-02-01", 2.5, pytest.approx(3.7), 1.75, 4.0)
    # Mar: no values -> null
    assert rows[2] == ("2025-03-01", None, None, None, None)


def test_inner_where_and_three_valued_logic():
    _, rows = run(
        {
            "paid": kpi("count(where status = 'paid')"),
            "not_paid": kpi("count(where status != 'paid')"),
            "unknown": kpi("count(where status is null)"),
            "paid_amount": kpi("sum(amount where status = 'paid')"),
        },
        **Q1,
    )
    assert rows == [
        # Jan statuses paid, refunded, paid -> paid 2, != paid 1, null 0; paid amounts 10 + null = 10
        ("2025-01-01", 2, 1, 0, 10),
        ("2025-02-01", 0, 0, 0, 0),
        # Mar statuses null, paid -> paid 1; 'null != paid' is null, not counted -> 0; null 1; paid amount 40
        ("2025-03-01", 1, 0, 1, 40),
    ]


def test_division_is_true_division_and_null_on_zero():
    _, rows = run({"ratio": kpi("count(where status = 'paid') / count()"), "half": kpi("count() / 2")}, **Q1)
    assert rows == [
        ("2025-01-01", pytest.approx(2 / 3), 1.5),  # 2 / 3; 3 / 2 = 1.5, not 1
        ("2025-02-01", None, 0.0),  # 0 / 0 -> null; 0 / 2 = 0.0
        ("2025-03-01", 0.5, 1.0),  # 1 / 2; 2 / 2
    ]


# --- by, combinations, where ------------------------------------------------------


def test_by_lists_every_combination_in_every_period_nulls_last():
    _, rows = run({"n": kpi("count()")}, by=["channel"], **Q1)
    # channels in Jan..Mar rows: web (Jan, Mar), app (Jan only), null (Mar only)
    # -> every month lists app, web, null (null last), counts 0 where absent
    assert rows == [
        ("2025-01-01", "app", 1),  # id 2
        ("2025-01-01", "web", 2),  # ids 1, 3
        ("2025-01-01", None, 0),
        ("2025-02-01", "app", 0),
        ("2025-02-01", "web", 0),
        ("2025-02-01", None, 0),
        ("2025-03-01", "app", 0),  # app is seen only in January
        ("2025-03-01", "web", 1),  # id 4
        ("2025-03-01", None, 1),  # id 5
    ]


def test_combinations_come_only_from_the_reported_periods():
    _, rows = run({"n": kpi("count()")}, by=["channel"], start=D(2025, 3, 1), end=D(2025, 3, 31))
    # only March rows count for combinations: web (id 4) and null (id 5); app (Jan) is not listed
    assert rows == [("2025-03-01", "web", 1), ("2025-03-01", None, 1)]


def test_inner_where_does_not_restrict_combinations():
    _, rows = run({"refunds": kpi("count(where status = 'refunded')")}, by=["channel"],
                  start=D(2025, 1, 1), end=D(2025, 1, 31))
    # Jan rows: web (paid), app (refunded), web (paid): both channels listed, web has no refund
    assert rows == [("2025-01-01", "app", 1), ("2025-01-01", "web", 0)]


def test_query_where_over_dimensions_and_a_dimension_expression():
    _, rows = run({"n": kpi("count()")}, where="size = 'big'", **Q1)
    # size = if(amount >= 30, 'big', 'small'): big rows are id 2 (30, Jan) and id 5 (40, Mar);
    # id 3's amount is null -> the condition is null -> 'small'
    assert rows == [("2025-01-01", 1), ("2025-02-01", 0), ("2025-03-01", 1)]
    _, rows = run({"n": kpi("count()")}, by=["size"], where="channel = 'web' or channel is null", **Q1)
    # web or null channel: ids 1 (small), 3 (small), 4 (small), 5 (big)
    assert rows == [
        ("2025-01-01", "big", 0), ("2025-01-01", "small", 2),
        ("2025-02-01", "big", 0), ("2025-02-01", "small", 0),
        ("2025-03-01", "big", 1), ("2025-03-01", "small", 1),
    ]


def test_missing_bounds_come_from_the_rows_read_after_where():
    _, rows = run({"n": kpi("count()")}, where="channel = 'app'")
    # only id 2 (Jan 20) passes: earliest = latest period = January
    assert rows == [("2025-01-01", 1)]
    _, rows = run({"n": kpi("count()")}, start=D(2025, 2, 1))
    # from February (given) to the latest row, March (id 4, id 5)
    assert rows == [("2025-02-01", 0), ("2025-03-01", 2)]
    _, rows = run({"n": kpi("count()")})
    # January (id 1) .. March (id 5); id 6 has no time and extends nothing
    assert [r[0] for r in rows] == ["2025-01-01", "2025-02-01", "2025-03-01"]


def test_dimension_values_that_are_dates_become_iso_strings():
    datasets = {"orders": {"time": "created_at", "dimensions": {"day": "date(created_at)", "at": "created_at"}}}
    data = {"orders": [
        {"created_at": T(2025, 1, 6, 9, 30)},
        {"created_at": T(2025, 1, 7)},
        {"created_at": T(2025, 1, 7)},
    ]}
    _, rows = run({"n": kpi("count()")}, datasets=datasets, data=data, grain="all", by=["day"])
    # date() of 9:30 on Jan 6 -> '2025-01-06'; two rows on Jan 7
    assert rows == [("2025-01-06", 1), ("2025-01-07", 2)]
    _, rows = run({"n": kpi("count()")}, datasets=datasets, data=data, grain="all", by=["at"])
    # a datetime with a time of day -> isoformat(); midnight -> the date alone
    assert rows == [("2025-01-06T09:30:00", 1), ("2025-01-07", 2)]


# --- filters, other datasets, joins, time= ---------------------------------------------


def test_kpi_filter_does_not_apply_to_another_datasets_aggregate():
    kpis = {
        "paid_per_signup": kpi(
            "count() / count(customers.*, time=signup_at)", filter="status = 'paid'"
        ),
        "signups": kpi("count(customers.*)"),
    }
    _, rows = run(kpis, **Q1)
    # count() of paid orders: Jan ids 1, 3 -> 2; Feb 0; Mar id 5 -> 1 (id 4's status is null: filtered out)
    # signups (customers' signup_at): Jan ids 1, 2 -> 2; Feb ids 3, 4 -> 2; Mar 0
    # (customers has no 'status' column: applying the filter there would fail)
    assert rows == [
        ("2025-01-01", 1.0, 2),  # 2 / 2
        ("2025-02-01", 0.0, 2),  # 0 / 2
        ("2025-03-01", None, 0),  # 1 / 0 -> null
    ]


def test_bounds_span_every_dataset_read():
    _, rows = run({"x": kpi("count() + count(customers.*)")})
    # orders Jan..Mar, customers signups Jan 1 .. May 10 (id 5) -> Jan..May
    # Jan 3 + 2 = 5; Feb 0 + 2 = 2; Mar 2 + 0 = 2; Apr 0; May 0 + 1 = 1
    assert rows == [("2025-01-01", 5), ("2025-02-01", 2), ("2025-03-01", 2), ("2025-04-01", 0), ("2025-05-01", 1)]


def test_time_argument_places_rows_by_another_column():
    _, rows = run({"churned": kpi("count(customers.*, time=churned_at)")})
    # churned_at: id 2 Mar 1, id 3 Feb 20, id 4 Feb 1, id 5 Apr 1; id 1 null -> no period
    # bounds from churned_at: Feb .. Apr
    assert rows == [("2025-02-01", 2), ("2025-03-01", 1), ("2025-04-01", 1)]


def test_join_with_a_non_matching_key():
    _, rows = run(
        {"n": kpi("count()"), "mrr": kpi("sum(customer.mrr)"), "pros": kpi("count(where customer.plan = 'pro')")},
        by=["plan"], start=D(2025, 1, 1), end=D(2025, 1, 31),
    )
    # Jan orders: id 1 -> customer 1 (pro, 100), id 2 -> customer 2 (basic, 50), id 3 -> customer 9: no match
    assert rows == [
        ("2025-01-01", "basic", 1, 50, 0),
        ("2025-01-01", "pro", 1, 100, 1),
        ("2025-01-01", None, 1, 0, 0),  # unmatched: plan null, mrr null -> sum 0
    ]
    _, rows = run({"mrr": kpi("sum(customer.mrr)")}, start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert rows == [("2025-01-01", 150)]  # 100 + 50 + null


def test_join_on_differently_named_columns():
    datasets = {
        "orders": {"time": "created_at", "joins": {"c": {"dataset": "people", "on": ["buyer", "person_id"]}}},
        "people": {"dimensions": {}},
    }
    data = {
        "orders": [{"created_at": T(2025, 1, 1), "buyer": 7}, {"created_at": T(2025, 1, 2), "buyer": 8}],
        "people": [{"person_id": 7, "age": 30}, {"person_id": 9, "age": 50}],
    }
    _, rows = run({"a": kpi("avg(c.age)"), "n": kpi("count(c.age)")}, datasets=datasets, data=data)
    # buyer 7 -> age 30; buyer 8 -> no match (null) -> avg 30 over 1 value
    assert rows == [("2025-01-01", 30.0, 1)]


def test_join_on_the_same_column_name_and_decimal_values():
    datasets = {
        "orders": {"time": "created_at", "joins": {"z": {"dataset": "zones", "on": "zone"}},
                   "dimensions": {"region": "z.region"}},
        "zones": {},
    }
    data = {
        "orders": [
            {"created_at": T(2025, 1, 1), "zone": "n1", "price": Decimal("0.10")},
            {"created_at": T(2025, 1, 2), "zone": "s1", "price": Decimal("0.20")},
            {"created_at": T(2025, 1, 3), "zone": None, "price": Decimal("0.05")},
        ],
        "zones": [{"zone": "n1", "region": "north"}, {"zone": "s1", "region": "south"}],
    }
    _, rows = run({"p": kpi("sum(price)"), "n": kpi("count()")}, datasets=datasets, data=data, by=["region"])
    # n1 -> north (0.10), s1 -> south (0.20), a null zone matches nothing -> region null (0.05)
    assert rows == [("2025-01-01", "north", 0.1, 1), ("2025-01-01", "south", 0.2, 1), ("2025-01-01", None, 0.05, 1)]
    _, rows = run({"p": kpi("sum(price) * 2")}, datasets=datasets, data=data)
    # exact decimals: (0.10 + 0.20 + 0.05) * 2 = 0.70, returned as a float
    assert rows == [("2025-01-01", 0.7)]


# --- stock aggregates -----------------------------------------------------------------


def test_stock_at_start_and_at_end_at_period_boundaries():
    kpis = {
        "at_start": kpi("count(*, at=start)", dataset="customers"),
        "at_end": kpi("count(*, at=end)", dataset="customers"),
        "mrr_end": kpi("sum(mrr, at=end)", dataset="customers"),
    }
    _, rows = run(kpis)
    # a stock is taken just before an instant t: from < t <= to.
    # at=start: t is the period's first instant:
    #   Jan 1: nobody (id 1 starts exactly then: new in January, not in its opening stock) -> 0
    #   Feb 1: ids 1, 2 (id 4 has to = from = Feb 1: never active) -> 2
    #   Mar 1: ids 1, 2 (id 2 ends exactly Mar 1: in the stock, ended in March; id 3 lived Feb 10-20) -> 2
    # at=end: t is the first instant after the period:
    #   Jan -> Feb 1: 2 (mrr 100 + 50); Feb -> Mar 1: 2 (150); Mar -> Apr 1: 1 (100)
    # id 3 (inside February) is never counted. Bounds: from/to periods of the rows
    # ever active (ids 1, 2, 3: Jan..Mar); ids 4 and 5 (to <= from) are ignored.
    assert rows == [
        ("2025-01-01", 0, 2, 150),
        ("2025-02-01", 2, 2, 150),
        ("2025-03-01", 2, 1, 100),
    ]


def test_stock_by_dimension_lists_rows_active_in_the_range():
    _, rows = run({"active": kpi("count(*, at=start)", dataset="customers")}, by=["plan"], **Q1)
    # active just before some instant of [Jan 1, Apr 1]: ids 1 (pro), 2 (basic), 3 (pro, inside Feb)
    # opening stocks: Jan nobody | Feb 1, 2 | Mar 1, 2 (2 ends exactly Mar 1)
    assert rows == [
        ("2025-01-01", "basic", 0), ("2025-01-01", "pro", 0),
        ("2025-02-01", "basic", 1), ("2025-02-01", "pro", 1),
        ("2025-03-01", "basic", 1), ("2025-03-01", "pro", 1),
    ]


def test_stock_with_other_aggregates_and_previous():
    kpis = {
        "avg_mrr": kpi("avg(mrr, at=end)", dataset="customers"),
        "plans": kpi("count_distinct(plan, at=end)", dataset="customers"),
        "before": kpi("previous(count(*, at=start))", dataset="customers"),
    }
    _, rows = run(kpis, start=D(2025, 2, 1), end=D(2025, 3, 31))
    # Feb at end (just before Mar 1): ids 1, 2 -> avg (100 + 50) / 2, plans {pro, basic} = 2;
    #   previous at=start = just before Jan 1 -> 0
    # Mar at end (just before Apr 1): id 1 -> 100, 1;  previous at=start = just before Feb 1 -> 2
    assert rows == [("2025-02-01", 75.0, 2, 0), ("2025-03-01", 100.0, 1, 2)]


# --- windows ---------------------------------------------------------------------------

SALES_DATASETS = {"sales": {"time": "at", "dimensions": {"channel": "channel"}}}
SALES = [
    {"at": T(2024, 12, 31, 23), "v": 5, "channel": "web"},
    {"at": T(2025, 1, 3), "v": 10, "channel": "web"},
    {"at": T(2025, 1, 31, 12), "v": 20, "channel": "app"},
    {"at": T(2025, 2, 14), "v": 60, "channel": "web"},
    {"at": T(2025, 4, 1), "v": 30, "channel": "web"},
    {"at": T(2025, 4, 2), "v": 30, "channel": "web"},
    {"at": T(2025, 4, 15), "v": 30, "channel": "web"},
    {"at": T(2025, 4, 30, 23, 59, 59), "v": 30, "channel": "web"},
]
# per month: Dec 2024: 1 row [5]; Jan: 2 [10, 20]; Feb: 1 [60]; Mar: 0; Apr: 4 [30, 30, 30, 30]
JAN_APR = {"start": D(2025, 1, 1), "end": D(2025, 4, 30)}


def sales(kpis: dict[str, str], **query):
    return run({k: kpi(f, dataset="sales") for k, f in kpis.items()}, datasets=SALES_DATASETS,
               data={"sales": SALES}, **query)


def test_previous_and_growth_read_before_start():
    _, rows = sales(
        {"n": "count()", "prev": "previous(count())", "prev2": "previous(count(), 2)", "g": "growth(count())"},
        **JAN_APR,
    )
    assert rows == [
        # Jan: 2; previous = Dec 2024 (before start) 1; 2 months back = Nov 0; growth (2 - 1) / 1
        ("2025-01-01", 2, 1, 0, 1.0),
        # Feb: 1; prev Jan 2; Dec 1; growth (1 - 2) / 2 = -0.5
        ("2025-02-01", 1, 2, 1, -0.5),
        # Mar: 0; prev Feb 1; Jan 2; growth (0 - 1) / 1 = -1
        ("2025-03-01", 0, 1, 2, -1.0),
        # Apr: 4; prev Mar 0; Feb 1; growth from 0: (4 - 0) / 0 -> null
        ("2025-04-01", 4, 0, 1, None),
    ]


def test_previous_keeps_the_dimension_values():
    _, rows = sales({"n": "count()", "prev": "previous(count())"}, by=["channel"],
                    start=D(2025, 1, 1), end=D(2025, 2, 28))
    # channels in Jan..Feb rows: app (Jan 31), web (Jan 3, Feb 14); the Dec row (web) is before start
    assert rows == [
        ("2025-01-01", "app", 1, 0),  # Dec: no app row
        ("2025-01-01", "web", 1, 1),  # Dec: the web row of Dec 31
        ("2025-02-01", "app", 0, 1),  # Jan app: 1
        ("2025-02-01", "web", 1, 1),  # Jan web: 1
    ]


def test_rolling_recomputes_from_rows():
    _, rows = sales(
        {"r_avg": "rolling(avg(v), 2)", "r_n": "rolling(count(), 3)", "r1": "rolling(sum(v), 1)"},
        **JAN_APR,
    )
    assert rows == [
        # Dec + Jan rows [5, 10, 20]: 35 / 3; Nov + Dec + Jan counts 0 + 1 + 2 = 3; Jan sum 30
        ("2025-01-01", pytest.approx(35 / 3), 3, 30),
        # Jan + Feb rows [10, 20, 60]: 90 / 3 = 30 (the average of the monthly averages would be
        # (15 + 60) / 2 = 37.5); Dec + Jan + Feb 1 + 2 + 1 = 4; Feb sum 60
        ("2025-02-01", 30.0, 4, 60),
        # Feb + Mar rows [60] -> 60; Jan + Feb + Mar 2 + 1 + 0 = 3; Mar sum 0
        ("2025-03-01", 60.0, 3, 0),
        # Mar + Apr rows [30 x 4] -> 30; Feb + Mar + Apr 1 + 0 + 4 = 5; Apr 120
        ("2025-04-01", 30.0, 5, 120),
    ]


def test_previous_of_rolling_equals_rolling_of_previous():
    _, rows = sales({"a": "previous(rolling(count(), 3))", "b": "rolling(previous(count()), 3)"}, **JAN_APR)
    # both are the 3-month rolling count of the month before:
    # Jan -> Dec: Oct 0 + Nov 0 + Dec 1 = 1; Feb -> Jan: 3; Mar -> Feb: 4; Apr -> Mar: 3
    assert rows == [("2025-01-01", 1, 1), ("2025-02-01", 3, 3), ("2025-03-01", 4, 4), ("2025-04-01", 3, 3)]


def test_to_date_and_cumulative():
    _, rows = sales(
        {"qtd": "to_date(sum(v), quarter)", "ytd": "to_date(sum(v), year)", "mtd": "to_date(sum(v), month)",
         "cum": "cumulative(sum(v))", "cum_n": "cumulative(count())"},
        **JAN_APR,
    )
    # monthly sums: Dec 5, Jan 30, Feb 60, Mar 0, Apr 120
    assert rows == [
        # QTD Jan 30; YTD 30 (Dec 2024 is last year); MTD 30; cumulative reads Dec before start: 5 + 30; rows 1 + 2
        ("2025-01-01", 30, 30, 30, 35, 3),
        ("2025-02-01", 90, 90, 60, 95, 4),  # 30 + 60; 35 + 60; 3 + 1
        ("2025-03-01", 90, 90, 0, 95, 4),  # nothing in March
        ("2025-04-01", 120, 210, 120, 215, 8),  # Q2 starts: 120; YTD 90 + 120; cumulative 95 + 120; 4 + 4
    ]


def test_to_date_week_on_daily_grain():
    data = {"sales": [{"at": T(2025, 1, d, 12), "v": 1, "channel": "web"} for d in (4, 5, 6, 6, 7)]}
    _, rows = run({"wtd": kpi("to_date(count(), week)", dataset="sales")}, datasets=SALES_DATASETS,
                  data=data, grain="day")
    # Jan 4 (Sat) and 5 (Sun) are in the week of Mon Dec 30; Jan 6 is a Monday: a new week
    # Jan 4: 1; Jan 5: 1 + 1 = 2; Jan 6: 2; Jan 7: 2 + 1 = 3
    assert rows == [("2025-01-04", 1), ("2025-01-05", 2), ("2025-01-06", 2), ("2025-01-07", 3)]


def test_total_gives_shares_with_by_and_where():
    data = {"sales": [
        {"at": T(2025, 1, 1), "channel": "web"}, {"at": T(2025, 1, 2), "channel": "web"},
        {"at": T(2025, 1, 3), "channel": "web"}, {"at": T(2025, 1, 4), "channel": "app"},
        {"at": T(2025, 2, 1), "channel": "web"}, {"at": T(2025, 2, 2), "channel": None},
    ]}
    kpis = {"share": kpi("count() / total(count())", dataset="sales"), "all": kpi("total(count())", dataset="sales")}
    _, rows = run(kpis, datasets=SALES_DATASETS, data=data, by=["channel"])
    assert rows == [
        # Jan: 4 rows; web 3 / 4, app 1 / 4, null channel 0 / 4
        ("2025-01-01", "app", 0.25, 4), ("2025-01-01", "web", 0.75, 4), ("2025-01-01", None, 0.0, 4),
        # Feb: 2 rows; app 0 / 2, web 1 / 2, null 1 / 2
        ("2025-02-01", "app", 0.0, 2), ("2025-02-01", "web", 0.5, 2), ("2025-02-01", None, 0.5, 2),
    ]
    _, rows = run(kpis, datasets=SALES_DATASETS, data=data, by=["channel"], where="channel = 'web'")
    # the where applies inside total() too: web 3 / 3 and 1 / 1
    assert rows == [("2025-01-01", "web", 1.0, 3), ("2025-02-01", "web", 1.0, 1)]


# --- grains -------------------------------------------------------------------------------


def test_week_grain_is_iso():
    data = {"sales": [
        {"at": T(2024, 12, 30), "v": 1},  # Monday: week of 2024-12-30
        {"at": T(2025, 1, 1, 8), "v": 1},  # Wednesday: same week
        {"at": T(2025, 1, 5, 23, 59), "v": 1},  # Sunday: same week
        {"at": T(2025, 1, 6), "v": 1},  # Monday midnight: next week
        {"at": T(2025, 1, 20), "v": 1},  # two weeks later
    ]}
    _, rows = run({"n": kpi("count()", dataset="sales"), "p": kpi("previous(count())", dataset="sales")},
                  datasets=SALES_DATASETS, data=data, grain="week")
    assert rows == [
        ("2024-12-30", 3, 0),  # week before (Dec 23) has none
        ("2025-01-06", 1, 3),
        ("2025-01-13", 0, 1),
        ("2025-01-20", 1, 0),
    ]


def test_quarter_and_year_grains():
    data = {"sales": [
        {"at": T(2023, 6, 1), "v": 1},
        {"at": T(2025, 1, 15), "v": 2},
        {"at": T(2025, 3, 31, 23), "v": 3},
        {"at": T(2025, 4, 1), "v": 4},
        {"at": T(2025, 11, 30), "v": 5},
    ]}
    kpis = {"s": kpi("sum(v)", dataset="sales"), "p": kpi("previous(sum(v))", dataset="sales")}
    _, rows = run(kpis, datasets=SALES_DATASETS, data=data, grain="quarter", start=D(2025, 2, 10))
    # from Q1 2025 (holds Feb 10) to Q4 2025; Q1 = 2 + 3, Q2 = 4, Q3 = 0, Q4 = 5;
    # previous of Q1 2025 is Q4 2024: 0
    assert rows == [("2025-01-01", 5, 0), ("2025-04-01", 4, 5), ("2025-07-01", 0, 4), ("2025-10-01", 5, 0)]
    _, rows = run(kpis, datasets=SALES_DATASETS, data=data, grain="year")
    # 2023: 1; 2024: 0; 2025: 2 + 3 + 4 + 5 = 14
    assert rows == [("2023-01-01", 1, 0), ("2024-01-01", 0, 1), ("2025-01-01", 14, 0)]


def test_day_grain():
    _, rows = run({"n": kpi("count()")}, grain="day", start=D(2025, 1, 30), end=D(2025, 2, 1))
    # Jan 30: none; Jan 31: id 3 (23:59); Feb 1: none
    assert rows == [("2025-01-30", 0), ("2025-01-31", 1), ("2025-02-01", 0)]


def test_grain_all():
    columns, rows = run({"n": kpi("count()"), "s": kpi("sum(amount)")}, grain="all")
    # every row with a time: ids 1..5 (id 6 has a null time) -> 5; 10 + 30 + 20 + 40 = 100
    assert columns == ["n", "s"]
    assert rows == [(5, 100)]
    _, rows = run({"n": kpi("count()")}, grain="all", start=D(2025, 1, 20), end=D(2025, 1, 31))
    # Jan 20 00:00 <= time < Feb 1 00:00: ids 2, 3
    assert rows == [(2,)]
    _, rows = run({"n": kpi("count()")}, grain="all", by=["channel"])
    assert rows == [("app", 1), ("web", 3), (None, 1)]  # web: ids 1, 3, 4 (id 6 has no time)


def test_dataset_without_time_column():
    datasets = {"plans": {"dimensions": {}}}
    data = {"plans": [{"price": 10}, {"price": 20}, {"price": None}]}
    _, rows = run({"n": kpi("count()", dataset="plans"), "a": kpi("avg(price)", dataset="plans")},
                  datasets=datasets, data=data, grain="all")
    assert rows == [(3, 15.0)]  # all rows count; (10 + 20) / 2
    with pytest.raises(ValueError):
        run({"n": kpi("count()", dataset="plans")}, datasets=datasets, data=data, grain="month")


# --- derived KPIs and top-level arithmetic -----------------------------------------------------


def test_derived_kpis_inline_their_own_filter():
    kpis = {
        "paid": kpi("count()", filter="status = 'paid'"),
        "all_orders": kpi("count()"),
        "paid_share": kpi("paid / all_orders", dataset=None),
        "scaled": kpi("paid_share * 2 + 0.5", dataset=None),
    }
    _, rows = run(kpis, ["paid_share", "scaled"], **Q1)
    # paid: Jan 2, Feb 0, Mar 1 (id 4 null status fails the filter); all: 3, 0, 2
    assert rows == [
        ("2025-01-01", pytest.approx(2 / 3), pytest.approx(2 / 3 * 2 + 0.5)),  # 11/6
        ("2025-02-01", None, None),  # 0 / 0 -> null, null propagates
        ("2025-03-01", 0.5, 1.5),  # 1 / 2; 0.5 * 2 + 0.5
    ]


def test_windows_apply_through_kpi_references():
    kpis = {"n": kpi("count()", dataset="sales"), "r": kpi("rolling(n, 2)", dataset=None)}
    _, rows = run(kpis, ["r"], datasets=SALES_DATASETS, data={"sales": SALES}, **JAN_APR)
    # Dec+Jan 1 + 2 = 3; Jan+Feb 2 + 1 = 3; Feb+Mar 1 + 0 = 1; Mar+Apr 0 + 4 = 4
    assert rows == [("2025-01-01", 3), ("2025-02-01", 3), ("2025-03-01", 1), ("2025-04-01", 4)]


def test_constant_literals_are_exact():
    kpis = {
        "c": kpi("0.06 + 0.01", dataset=None),
        "eq": kpi("if(0.06 + 0.01 = 0.07, 1, 0)", dataset=None),
        "q": kpi("7 / 2", dataset=None),
    }
    _, rows = run(kpis, start=D(2025, 1, 1), end=D(2025, 1, 31))
    assert rows == [("2025-01-01", 0.07, 1, 3.5)]  # exact decimal sum; 7 / 2 is not integer division
    with pytest.raises(ValueError):  # no dataset read: the periods need start and end
        run(kpis)


def test_row_functions_inside_and_outside_aggregates():
    datasets = {"calls": {"time": "opened_at"}}
    data = {"calls": [
        {"opened_at": T(2025, 1, 6, 9), "answered_at": T(2025, 1, 6, 9, 30), "topic": "Billing issue", "score": 2.5},
        {"opened_at": T(2025, 1, 7, 10), "answered_at": T(2025, 1, 7, 12, 15), "topic": "billing", "score": -2.5},
        {"opened_at": T(2025, 1, 12, 23), "answered_at": None, "topic": None, "score": None},
    ]}
    formulas = {
        "wait_min": "avg(minutes_between(opened_at, answered_at))",  # (30 + 135) / 2 = 82.5
        "wait_h": "sum(hours_between(opened_at, answered_at))",  # 0.5 + 2.25 = 2.75
        "wait_d": "max(days_between(opened_at, answered_at))",  # 2.25 h / 24 = 0.09375
        "sundays": "count(where day_of_week(opened_at) = 7)",  # Jan 12 2025 is a Sunday -> 1
        "cap_b": "count(where topic like 'B%')",  # case-sensitive: only 'Billing issue' -> 1
        "any_b": "count(where lower(topic) like '%billing%')",  # rows 1, 2 (null topic -> null) -> 2
        "not_b": "count(where topic not like 'B_lling%')",  # row 2; row 3 null -> 1
        "rounded": "sum(abs(round(score)))",  # half away from zero: |3| + |-3| = 6
        "filled": "sum(coalesce(score, 10))",  # 2.5 - 2.5 + 10 = 10
        "hours": "count(where hour(opened_at) in (9, 23))",  # rows 1, 3 -> 2
        "not_in_null": "count(where score not in (2.5, null))",  # false, null, null -> 0
        "not_pos": "count(where not (score > 0))",  # not true, not false, not null -> 1
        "or_null": "count(where score > 0 or topic is null)",  # true, false, (null or true) -> 2
        "label": "max(if(score > 0, 'pos', 'neg'))",  # 'pos', 'neg', null condition -> 'neg' -> max 'pos'
        "days": "count_distinct(date(opened_at))",  # 3 distinct days
        "first_day": "min(date(opened_at))",  # 2025-01-06
        "least1": "sum(least(score, 1))",  # min(2.5, 1) + min(-2.5, 1) = 1 - 2.5 = -1.5; null skipped
        "great": "count(greatest(score, 0))",  # row 3's greatest has a null -> null -> 2
        "len": "sum(length(topic))",  # 13 + 7 = 20
        "between": "count(where score between -2.5 and 2.5)",  # rows 1, 2 -> 2
        "on_day": "count(where date(opened_at) = '2025-01-07')",  # row 2 -> 1
        "top_round": "round(avg(score) + 0.25, 1)",  # avg (2.5 - 2.5) / 2 = 0 -> 0.25 -> 0.3 (half away)
        "top_nullif": "nullif(count(), 3)",  # 3 rows -> null
        "top_floor": "floor(avg(minutes_between(opened_at, answered_at)))",  # floor(82.5) = 82
        "upper_max": "max(upper(topic))",  # 'BILLING ISSUE' > 'BILLING'
    }
    kpis = {k: kpi(f, dataset="calls") for k, f in formulas.items()}
    columns, rows = run(kpis, datasets=datasets, data=data, grain="all")
    got = dict(zip(columns, rows[0]))
    assert got == {
        "wait_min": 82.5, "wait_h": 2.75, "wait_d": 0.09375, "sundays": 1, "cap_b": 1, "any_b": 2,
        "not_b": 1, "rounded": 6, "filled": 10, "hours": 2, "not_in_null": 0, "not_pos": 1,
        "or_null": 2, "label": "pos", "days": 3, "first_day": "2025-01-06", "least1": -1.5,
        "great": 2, "len": 20, "between": 2, "on_day": 1, "top_round": 0.3, "top_nullif": None,
        "top_floor": 82, "upper_max": "BILLING ISSUE",
    }


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formula", "grain"),
    [
        ("to_date(count(), week)", "month"),  # a week is not made of whole months
        ("to_date(count(), month)", "quarter"),
        ("rolling(cumulative(count()), 2)", "month"),  # nested range windows
        ("previous(count())", "all"),
        ("rolling(count(customers.*, at=start), 2)", "month"),  # range window around a stock
        ("count(customers.*, at=end)", "all"),
        ("count(sum(amount))", "month"),  # aggregate inside an aggregate
        ("amount + 1", "month"),  # a bare column outside an aggregate
    ],
)
def test_invalid_queries_raise(formula: str, grain: str):
    with pytest.raises(ValueError):
        run({"bad": kpi(formula)}, grain=grain, start=D(2025, 1, 1), end=D(2025, 3, 31))


def test_total_with_grain_all_is_the_value_without_dimensions():
    # Q1 orders: ids 1-5 (id 6 has no time); by channel web {1, 3, 4}, app {2}, none {5}
    kpis = {"share": kpi("count() / total(count())")}
    columns, rows = run(kpis, ["share"], grain="all", by=("channel",), **Q1)
    assert columns == ["channel", "share"]
    assert rows == [("app", pytest.approx(1 / 5)), ("web", pytest.approx(3 / 5)), (None, pytest.approx(1 / 5))]


def test_cycles_raise():
    kpis = {"a": kpi("b + 1", dataset=None), "b": kpi("a * 2", dataset=None)}
    with pytest.raises(ValueError, match="a -> b -> a"):
        run(kpis, ["a"], start=D(2025, 1, 1), end=D(2025, 1, 31))


# --- loading definitions ---------------------------------------------------------------------


def test_load_definitions_reads_yaml(tmp_path):
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "sales.yml").write_text(
        "datasets:\n"
        "  sales:\n"
        "    table: sales\n"
        "    time: at\n"
        "    dimensions:\n"
        "      channel: channel\n"
        "kpis:\n"
        "  web_share:\n"
        "    dataset: sales\n"
        "    formula: count(where channel = 'web') / count()\n"
        "    target: 0.75\n",
        encoding="utf-8",
    )
    definitions = load_definitions([tmp_path / "defs"])
    assert definitions["kpis"]["web_share"]["target"] == "0.75"
    _, rows = evaluate(definitions, {"sales": SALES}, ["web_share"], **JAN_APR)
    # web rows: Jan 1 of 2 (10 web, 20 app), Feb 1 of 1, Mar none, Apr 4 of 4
    assert rows == [("2025-01-01", 0.5), ("2025-02-01", 1.0), ("2025-03-01", None), ("2025-04-01", 1.0)]


# --- the business calendar (time zones, week start, fiscal years) ---------------------------

UTC = dt.timezone.utc


def events(kpis: dict[str, str], rows: list[dict[str, Any]], *, data_zone: str | None = None,
           calendar: dict[str, Any] | None = None, **query):
    """KPIs over one dataset ``events`` placed by ``at`` (naive times in ``data_zone``, default UTC)."""
    body: dict[str, Any] = {"time": "at"}
    if data_zone:
        body["timezone"] = data_zone
    return run({name: kpi(formula, dataset="events") for name, formula in kpis.items()},
               datasets={"events": body}, data={"events": rows}, calendar=calendar, **query)


# Sao Paulo's DST began on 2018-11-04 at 00:00 (-03 -> -02: that day has 23 hours, from 03:00 UTC
# to 02:00 UTC the next day) and ended on 2019-02-17 at 00:00 (-02 -> -03: 23:00-23:59 on Feb 16 twice).
SAO_PAULO_DST_START = [
    {"at": T(2018, 11, 3, 3, 0)},  # 00:00 -03 on Nov 3
    {"at": T(2018, 11, 4, 2, 59, 59)},  # 23:59:59 -03 on Nov 3
    {"at": T(2018, 11, 4, 3, 0)},  # 01:00 -02 on Nov 4: its first instant
    {"at": T(2018, 11, 5, 1, 59, 59)},  # 23:59:59 -02 on Nov 4: its last second
    {"at": T(2018, 11, 5, 2, 0)},  # 00:00 -02 on Nov 5
]


def test_a_sao_paulo_day_of_23_hours_counts_its_rows():
    kpis = {"n": "count()", "hours": "sum(hour(at))", "days": "period_days()"}
    window = {"grain": "day", "start": D(2018, 11, 3), "end": D(2018, 11, 5)}
    _, rows = events(kpis, SAO_PAULO_DST_START, calendar={"timezone": "America/Sao_Paulo"}, **window)
    assert rows == [
        ("2018-11-03", 2, 0 + 23, 1),
        ("2018-11-04", 2, 1 + 23, 1),  # no local hour 0: midnight was skipped
        ("2018-11-05", 1, 0, 1),
    ]
    # the same rows in a UTC calendar: Nov 3 = 03:00; Nov 4 = 02:59:59, 03:00; Nov 5 = 01:59:59, 02:00
    _, rows = events(kpis, SAO_PAULO_DST_START, **window)
    assert rows == [("2018-11-03", 1, 3, 1), ("2018-11-04", 2, 2 + 3, 1), ("2018-11-05", 2, 1 + 2, 1)]
    # the query's zone wins over the calendar's
    _, rows = events(kpis, SAO_PAULO_DST_START, timezone="America/Sao_Paulo", **window)
    assert [r[1] for r in rows] == [2, 2, 1]


SHIFTS = [
    # naive wall times of Sao Paulo (the dataset's timezone)
    # 2018-11-03 12:00 -03 = 15:00 UTC; 2018-11-04 12:00 -02 = 14:00 UTC: 23 hours apart
    {"opened_at": T(2018, 11, 3, 12), "closed_at": T(2018, 11, 4, 12)},
    # 00:30 on Nov 4 is in the gap: read with the offset before it (-03) = 03:30 UTC = 01:30 -02;
    # 02:00 -02 = 04:00 UTC: half an hour
    {"opened_at": T(2018, 11, 4, 0, 30), "closed_at": T(2018, 11, 4, 2)},
    # 23:30 on Feb 16 2019 happened twice: the first one (-02) = 01:30 UTC; 00:30 -03 = 03:30 UTC: 2 hours
    {"opened_at": T(2019, 2, 16, 23, 30), "closed_at": T(2019, 2, 17, 0, 30)},
]


def test_elapsed_time_is_real_time_across_dst_and_row_functions_see_the_calendar_zone():
    datasets = {"shifts": {"time": "opened_at", "timezone": "America/Sao_Paulo"}}
    kpis = {"hours": kpi("sum(hours_between(opened_at, closed_at))", dataset="shifts"),
            "opened_hour": kpi("sum(hour(opened_at))", dataset="shifts"),
            "days": kpi("count_distinct(date(opened_at))", dataset="shifts")}
    window = {"start": D(2018, 11, 1), "end": D(2019, 2, 28)}
    _, rows = run(kpis, datasets=datasets, data={"shifts": SHIFTS},
                  calendar={"timezone": "America/Sao_Paulo"}, **window)
    assert rows == [
        ("2018-11-01", 23.5, 12 + 1, 2),  # 23 + 0.5 hours; opened at 12:00 and 01:30 (after the gap)
        ("2018-12-01", 0, 0, 0),
        ("2019-01-01", 0, 0, 0),
        ("2019-02-01", 2.0, 23, 1),
    ]
    # a UTC calendar: the same instants, their UTC wall times (15:00, 03:30, 01:30 on Feb 17)
    _, rows = run(kpis, datasets=datasets, data={"shifts": SHIFTS}, **window)
    assert rows[0] == ("2018-11-01", 23.5, 15 + 3, 2) and rows[3] == ("2019-02-01", 2.0, 1, 1)


def test_the_repeated_hour_of_a_naive_time_from_another_zone():
    # naive Berlin times (+01:00) in a Sao Paulo calendar, around the end of its DST (02:00 UTC on Feb 17)
    rows = [
        {"at": T(2019, 2, 17, 2, 30)},  # 01:30 UTC = 23:30 -02 on Feb 16
        {"at": T(2019, 2, 17, 3, 30)},  # 02:30 UTC = 23:30 -03 on Feb 16 (the repeated hour)
        {"at": T(2019, 2, 17, 4, 0)},  # 03:00 UTC = 00:00 -03 on Feb 17
    ]
    _, out = events({"n": "count()", "hours": "sum(hour(at))"}, rows, data_zone="Europe/Berlin",
                    calendar={"timezone": "America/Sao_Paulo"}, grain="day",
                    start=D(2019, 2, 16), end=D(2019, 2, 17))
    assert out == [("2019-02-16", 2, 46), ("2019-02-17", 1, 0)]


def test_zones_with_quarter_hour_offsets():
    rows = [
        {"at": dt.datetime(2024, 12, 31, 18, 29, 59, tzinfo=UTC)},  # Kolkata Dec 31 23:59:59; Kathmandu Jan 1 00:14:59
        {"at": dt.datetime(2025, 1, 31, 18, 14, 59, tzinfo=UTC)},  # Kolkata 23:44:59; Kathmandu 23:59:59 (Jan 31)
        {"at": dt.datetime(2025, 1, 31, 18, 15, tzinfo=UTC)},  # Kolkata 23:45 Jan 31; Kathmandu 00:00 Feb 1
        {"at": dt.datetime(2025, 1, 31, 18, 30, tzinfo=UTC)},  # Kolkata 00:00 Feb 1; Kathmandu 00:15 Feb 1
    ]
    window = {"start": D(2024, 12, 1), "end": D(2025, 2, 28)}
    # aware values are instants: the dataset's timezone does not apply to them
    counts = {zone: [r[1] for r in events({"n": "count()"}, rows, data_zone="America/New_York",
                                          calendar={"timezone": zone}, **window)[1]]
              for zone in ("Asia/Kolkata", "Asia/Kathmandu", "UTC")}
    assert counts == {"Asia/Kolkata": [1, 2, 1], "Asia/Kathmandu": [0, 2, 2], "UTC": [1, 3, 0]}


def test_date_columns_are_never_shifted():
    rows = [{"at": D(2025, 1, 1)}, {"at": D(2025, 1, 31)}, {"at": D(2025, 2, 1)}]
    kpis = {"n": "count()", "wednesdays": "count(where day_of_week(at) = 3)", "first": "min(date(at))"}
    for zone in ("America/Sao_Paulo", "Asia/Kathmandu"):
        _, out = events(kpis, rows, data_zone="Europe/Berlin", calendar={"timezone": zone},
                        start=D(2025, 1, 1), end=D(2025, 2, 28))
        # 2025-01-01 is a Wednesday; Jan 31 a Friday; Feb 1 a Saturday
        assert out == [("2025-01-01", 2, 1, "2025-01-01"), ("2025-02-01", 1, 0, "2025-02-01")], zone


def test_sqlite_text_offset_is_an_instant_plain_text_is_naive_and_a_bare_date_a_date():
    rows = [
        {"at": "2025-01-31 23:30:00"},  # naive Berlin (+01:00): 22:30 UTC, Jan 31
        {"at": "2025-02-01 00:30:00"},  # naive Berlin: 23:30 UTC, Jan 31
        {"at": "2025-01-31T23:30:00-03:00"},  # an instant: 02:30 UTC, Feb 1
        {"at": "2025-01-31T22:59:59Z"},  # an instant: Jan 31
        {"at": "2025-02-01"},  # a calendar date: Feb 1, midnight
    ]
    _, out = events({"n": "count()", "hours": "sum(hour(at))"}, rows, data_zone="Europe/Berlin",
                    start=D(2025, 1, 1), end=D(2025, 2, 28))
    assert out == [("2025-01-01", 3, 22 + 23 + 22), ("2025-02-01", 2, 2 + 0)]


def test_week_start():
    rows = [{"at": T(2025, 1, 3, 12)}, {"at": T(2025, 1, 4)}, {"at": T(2025, 1, 5, 23, 59)}, {"at": T(2025, 1, 6)}]
    # Fri 3, Sat 4, Sun 5, Mon 6 January 2025
    expected = {
        "monday": [("2024-12-30", 3), ("2025-01-06", 1)],  # Fri, Sat, Sun | Mon
        "sunday": [("2024-12-29", 2), ("2025-01-05", 2)],  # Fri, Sat | Sun, Mon
        "saturday": [("2024-12-28", 1), ("2025-01-04", 3)],  # Fri | Sat, Sun, Mon
    }
    for week_start, want in expected.items():
        _, out = events({"n": "count()"}, rows, calendar={"week_start": week_start}, grain="week",
                        start=D(2025, 1, 1), end=D(2025, 1, 6))
        assert out == want, week_start
    # to_date(x, week) at day grain starts on the calendar's week start: Sat 4 .. Mon 6 = 3 rows
    _, out = events({"wtd": "to_date(count(), week)"}, rows, calendar={"week_start": "saturday"},
                    grain="day", start=D(2025, 1, 6), end=D(2025, 1, 6))
    assert out == [("2025-01-06", 3)]


FISCAL_EDGES = [
    {"at": T(2025, 3, 31, 23, 59, 59)},  # fiscal year 2024 (starting April)
    {"at": T(2025, 4, 1)},  # fiscal year 2025: its first instant
    {"at": T(2026, 3, 31, 23, 59, 59)},  # fiscal year 2025: its last second
    {"at": T(2026, 4, 1)},  # fiscal year 2026
]


def test_fiscal_year_2025_starting_in_april_is_april_2025_to_march_2026():
    _, out = events({"n": "count()", "p": "previous(count())", "days": "period_days()"}, FISCAL_EDGES,
                    calendar={"fiscal_year_start": 4}, grain="fiscal_year",
                    start=D(2023, 6, 1), end=D(2026, 4, 1))
    assert out == [
        ("2023-04-01", 0, 0, 366),  # 2023-04-01 .. 2024-03-31 holds Feb 29 2024
        ("2024-04-01", 1, 0, 365),
        ("2025-04-01", 2, 1, 365),
        ("2026-04-01", 1, 2, 365),
    ]
    # the same rows by calendar year: 2025 = Mar 31 2025 and Apr 1 2025; 2026 = the other two
    _, out = events({"n": "count()"}, FISCAL_EDGES, calendar={"fiscal_year_start": 4}, grain="year")
    assert out == [("2025-01-01", 2), ("2026-01-01", 2)]


def test_fiscal_quarters_and_to_date_of_a_fiscal_year():
    rows = [{"at": T(2025, 1, 31, 23)}, {"at": T(2025, 2, 1)}, {"at": T(2025, 4, 30, 12)}, {"at": T(2025, 5, 1)}]
    # fiscal year from February: quarters Nov-Jan, Feb-Apr, May-Jul, Aug-Oct; FY2024 = 2024-02-01 .. 2025-01-31
    _, out = events({"n": "count()", "ytd": "to_date(count(), fiscal_year)", "days": "period_days()"}, rows,
                    calendar={"fiscal_year_start": 2}, grain="fiscal_quarter",
                    start=D(2024, 12, 15), end=D(2025, 5, 1))
    assert out == [
        ("2024-11-01", 1, 1, 30 + 31 + 31),  # Nov, Dec, Jan
        ("2025-02-01", 2, 2, 28 + 31 + 30),  # Feb, Mar, Apr; a new fiscal year
        ("2025-05-01", 1, 3, 31 + 30 + 31),
    ]
    # month grain, to_date of a fiscal quarter: Apr 2025 = Feb..Apr = 2 rows
    _, out = events({"qtd": "to_date(count(), fiscal_quarter)"}, rows, calendar={"fiscal_year_start": 2},
                    start=D(2025, 4, 1), end=D(2025, 5, 31))
    assert out == [("2025-04-01", 2), ("2025-05-01", 1)]


LEAP = [
    {"at": T(2023, 2, 28, 12)}, {"at": T(2023, 2, 28, 13)},
    {"at": T(2023, 3, 31, 8)}, {"at": T(2023, 3, 31, 9)},
    {"at": T(2024, 2, 28, 10)},
    {"at": T(2024, 2, 29)}, {"at": T(2024, 2, 29, 12)}, {"at": T(2024, 2, 29, 23, 59, 59)},
    {"at": T(2024, 3, 31, 9)},
]


def test_previous_with_a_unit_at_day_grain_takes_the_months_last_day():
    kpis = {"n": "count()", "pm": "previous(count(), 1, month)", "gm": "growth(count(), 1, month)",
            "py": "previous(count(), 1, year)", "p2": "previous(count(), 2)"}
    _, out = events(kpis, LEAP, grain="day", start=D(2024, 3, 28), end=D(2024, 3, 31))
    assert out == [
        ("2024-03-28", 0, 1, -1.0, 0, 0),  # Feb 28: 1 row; 2023-03-28: none; Mar 26: none
        ("2024-03-29", 0, 3, -1.0, 0, 0),  # Feb 29: 3 rows
        ("2024-03-30", 0, 3, -1.0, 0, 0),  # Feb 30 does not exist: Feb 29
        ("2024-03-31", 1, 3, pytest.approx(-2 / 3), 2, 0),  # Feb 29; 2023-03-31: 2 rows; (1 - 3) / 3
    ]
    _, out = events({"n": "count()", "py": "previous(count(), 1, year)"}, LEAP, grain="day",
                    start=D(2024, 2, 28), end=D(2024, 2, 29))
    assert out == [("2024-02-28", 1, 2), ("2024-02-29", 3, 2)]  # 2023-02-29 does not exist: Feb 28


def test_previous_with_a_unit_at_week_grain_depends_on_the_week_start():
    kpis = {"n": "count()", "pm": "previous(count(), 1, month)"}
    # Sunday weeks: 2024-03-31 starts one; a month before is Feb 29 (Thu), in the week from Sun Feb 25: 1 + 3 rows
    _, out = events(kpis, LEAP, calendar={"week_start": "sunday"}, grain="week",
                    start=D(2024, 3, 31), end=D(2024, 3, 31))
    assert out == [("2024-03-31", 1, 4)]
    # Monday weeks: the week holding Mar 31 starts Mar 25; a month before is Sun Feb 25, in the week Feb 19-25
    _, out = events(kpis, LEAP, grain="week", start=D(2024, 3, 31), end=D(2024, 3, 31))
    assert out == [("2024-03-25", 1, 0)]


def test_previous_one_year_at_month_grain_is_the_same_month_last_year():
    _, out = events({"n": "count()", "py": "previous(count(), 1, year)", "gy": "growth(count(), 1, year)"},
                    LEAP, grain="month", start=D(2024, 2, 1), end=D(2024, 3, 31))
    # Feb 2024: 4 rows, Feb 2023: 2; Mar 2024: 1, Mar 2023: 2
    assert out == [("2024-02-01", 4, 2, 1.0), ("2024-03-01", 1, 2, -0.5)]


def test_stocks_open_just_before_the_local_midnight():
    customers = [
        # Kolkata is UTC+05:30: local midnight of Feb 1 is 18:30 UTC on Jan 31
        {"signup_at": T(2025, 1, 31, 18, 29, 59), "churned_at": None},  # Jan 31 23:59:59 local
        {"signup_at": T(2025, 1, 31, 18, 30), "churned_at": None},  # Feb 1 00:00 local: new in Feb
        {"signup_at": T(2025, 1, 10), "churned_at": T(2025, 2, 28, 18, 30)},  # ends at Mar 1 00:00 local
        {"signup_at": T(2025, 1, 5), "churned_at": T(2025, 1, 31, 18, 30)},  # ends at Feb 1 00:00 local
    ]
    datasets = {"customers": {"time": "signup_at", "active": {"from": "signup_at", "to": "churned_at"}}}
    kpis = {"opening": kpi("count(*, at=start)", dataset="customers"),
            "new": kpi("count()", dataset="customers"),
            "ended": kpi("count(*, time=churned_at)", dataset="customers"),
            "closing": kpi("count(*, at=end)", dataset="customers")}
    _, out = run(kpis, datasets=datasets, data={"customers": customers}, calendar={"timezone": "Asia/Kolkata"},
                 start=D(2025, 1, 1), end=D(2025, 3, 31))
    assert out == [
        ("2025-01-01", 0, 3, 0, 3),  # new: the first, third and fourth; the second opens Feb
        ("2025-02-01", 3, 1, 1, 3),  # the fourth ends exactly at Feb's first instant: in its opening stock
        ("2025-03-01", 3, 0, 1, 2),  # the third ends exactly at Mar's first instant
    ]


def test_period_days():
    rows = [
        {"at": T(2025, 1, 1, 3)},  # New York: 2024-12-31 22:00
        {"at": T(2025, 1, 10, 12)},
        {"at": T(2025, 1, 31, 5)},  # New York: 2025-01-31 00:00
    ]
    kpis = {"days": kpi("period_days()", dataset=None), "rate": kpi("count() / period_days()", dataset="events")}
    datasets = {"events": {"time": "at"}}
    ny = {"timezone": "America/New_York"}
    # grain all without bounds: the first to the last local day with rows
    _, out = run(kpis, datasets=datasets, data={"events": rows}, grain="all", calendar=ny)
    assert out == [(32, pytest.approx(3 / 32))]  # 2024-12-31 .. 2025-01-31
    _, out = run(kpis, datasets=datasets, data={"events": rows}, grain="all")
    assert out == [(31, pytest.approx(3 / 31))]  # UTC: 2025-01-01 .. 2025-01-31
    # grain all with bounds: the days of the range, whatever the rows
    _, out = run(kpis, datasets=datasets, data={"events": rows}, grain="all", calendar=ny,
                 start=D(2025, 1, 5), end=D(2025, 1, 20))
    assert out == [(16, pytest.approx(1 / 16))]
    _, out = run(kpis, datasets=datasets, data={"events": rows}, grain="month", calendar=ny,
                 start=D(2024, 2, 1), end=D(2024, 3, 31))
    assert out == [("2024-02-01", 29, 0.0), ("2024-03-01", 31, 0.0)]


@pytest.mark.parametrize(
    ("formula", "grain", "calendar", "message"),
    [
        ("previous(count(), 1, day)", "week", None, "finer than the grain"),
        ("previous(count(), 1, week)", "month", None, "finer than the grain"),
        ("growth(count(), 1, month)", "fiscal_quarter", None, "finer than the grain"),
        ("previous(count(), 1, fortnight)", "day", None, "unknown unit"),
        # fiscal quarters Nov-Jan cross a calendar year; fiscal years from April cross one too
        ("to_date(count(), year)", "fiscal_quarter", {"fiscal_year_start": 2}, "not allowed"),
        ("to_date(count(), fiscal_year)", "year", {"fiscal_year_start": 4}, "not allowed"),
        ("to_date(count(), quarter)", "fiscal_quarter", {"fiscal_year_start": 5}, "not allowed"),
        ("sum(period_days())", "month", None, "inside the aggregate"),
        ("period_days(1)", "month", None, "takes no arguments"),
    ],
)
def test_invalid_calendar_queries_raise(formula: str, grain: str, calendar: dict | None, message: str):
    with pytest.raises(ValueError, match=message):
        events({"bad": formula}, LEAP, calendar=calendar, grain=grain, start=D(2024, 1, 1), end=D(2024, 12, 31))


def test_valid_to_date_groups_of_aligned_fiscal_calendars():
    # fiscal years from April: fiscal quarters are calendar quarters, so quarters nest in fiscal years
    _, out = events({"ytd": "to_date(count(), fiscal_year)"}, FISCAL_EDGES, calendar={"fiscal_year_start": 4},
                    grain="quarter", start=D(2025, 1, 1), end=D(2025, 6, 30))
    assert out == [("2025-01-01", 1), ("2025-04-01", 1)]  # FY2024 holds Mar 31; FY2025 starts Apr 1
