"""Whole compiled queries per dialect, compared with tests/golden/<case>/<dialect>.sql.

Each golden file starts with a header comment naming the test that wrote it and what the
case shows; the rest is the compiled SQL, compared byte for byte (only the header is left
out of the comparison). A change of generated SQL shows as a unified diff; after checking
it, refresh the files with ``pytest tests/test_golden.py --update-goldens``, which also
rewrites a missing or stale header. The cases compile the project in tests/golden/project,
whose definitions are the goldens' own (see tests/golden/README.md). The SQL of DuckDB and
SQLite is also executed by the result tests, with hand-worked numbers; the other dialects
are compile-only here.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import sqlglot

import kpi_engine

GOLDEN = Path(__file__).parent / "golden"
DIALECTS = ("duckdb", "sqlite", "postgres", "snowflake", "bigquery", "spark", "trino")
Q1 = {"start": "2025-01-01", "end": "2025-03-31"}



def converted(grain: str, months: str) -> dict[str, str]:
    """The headers of the dialects that convert each row's time in a zone, as their engines do."""
    what = f"ticket volume by {grain} in America/New_York over {months}: each row's time converted"
    return {"sqlite": f"{what} by kpi_local(), which the connector registers from Python's zoneinfo (SQLite has "
                      "no time zones)",
            "snowflake": f"{what} by the engine (CONVERT_TIMEZONE), as kpi compile gives it",
            "bigquery": f"{what} by the engine (DATETIME(TIMESTAMP(t, 'UTC'), zone)), as kpi compile gives it",
            "trino": f"{what} by the engine (AT_TIMEZONE), as kpi compile gives it"}


# case: (what the SQL shows, for the header of its files, or that per dialect with "*" for the others; the query)
CASES = {
    "ticket_volume": (
        "ticket volume by month: one filtered count of tickets, every month of the range present",
        dict(kpis=["ticket_volume"], **Q1)),
    "first_contact_resolution": (
        "FCR by channel: two conditional counts from one scan of tickets, divided",
        dict(kpis=["first_contact_resolution"], by=["channel"], **Q1)),
    "active_customers": (
        "active customers and churn rate by plan: stocks as running sums of signups (+1) and churns (-1), "
        "churns counted by churned_at",
        dict(kpis=["active_customers", "churn_rate"], by=["plan"], **Q1)),
    "channel_share": (
        "each channel's share of the month's tickets, with a query where: total() summed over the channels",
        dict(kpis=["channel_share"], by=["channel"], where="priority != 'low'", **Q1)),
    "monthly_sales_growth": (
        "growth(revenue) by month: the month before the range read too, compared with LAG",
        dict(kpis=["monthly_sales_growth"], **Q1)),
    "cac": (
        "CAC by acquisition channel: spend and new customers of two datasets, one scan each, by month",
        dict(kpis=["cac"], by=["acquisition_channel"], **Q1)),
    "aht_rolling_3m": (
        "rolling(average_handle_time, 3) by week: sums and counts from two weeks early, over 3-week windows",
        dict(kpis=["aht_rolling_3m"], grain="week", **Q1)),
    "p90_first_response": (
        "90th percentile of first response time by quarter, no date range: the periods span the data",
        dict(kpis=["p90_first_response"], grain="quarter")),
    "customers_with_tickets_to_date": (
        "cumulative(count_distinct(customer_id)) by month: distinct customers of every ticket up to each month",
        dict(kpis=["customers_with_tickets_to_date"], **Q1)),
    "revenue_ytd": (
        "to_date(revenue, year) by day in March: daily revenue summed from 1 January, restarting each year",
        dict(kpis=["revenue_ytd"], grain="day", start="2025-03-01", end="2025-03-31")),
    "revenue_same_day_last_year": (
        "previous(revenue, 1, year) by day: a year back is 365 or 366 days, so each day joins the day "
        "with its date a year earlier (28 February for the 29th) rather than a LAG",
        dict(kpis=["revenue", "revenue_same_day_last_year"], grain="day", start="2024-02-27", end="2024-03-01")),
    "revenue_per_day": (
        "revenue / period_days() by quarter: the days of each quarter from its first day and the next one's",
        dict(kpis=["revenue_per_day"], grain="quarter", **Q1)),
    "ticket_volume_sao_paulo": (
        "ticket volume by week cut in America/Sao_Paulo: naive UTC times read as local wall time, rows "
        "read a day wider than the range, the local period deciding",
        dict(kpis=["ticket_volume"], grain="week", timezone="America/Sao_Paulo", start="2025-01-01",
             end="2025-01-31")),
    "ticket_volume_new_york": (
        {"*": "ticket volume by month in America/New_York over March: a row's month from the UTC instants the "
              "months around it start at (05:00 on 1 March, 04:00 on 1 April: the clocks changed on 9 March), by "
              "two comparisons, not a conversion a row",
         **converted("month", "March")},
        dict(kpis=["ticket_volume"], grain="month", timezone="America/New_York", start="2025-03-01",
             end="2025-03-31")),
    "ticket_volume_new_york_days": (
        {"*": "ticket volume by day in America/New_York over March and April: more than 31 days start in the "
              "range, so the offset in force (-5 hours before the change of 9 March, -4 after) is picked by one "
              "comparison and added to each row's time",
         **converted("day", "March and April")},
        dict(kpis=["ticket_volume"], grain="day", timezone="America/New_York", start="2025-03-01",
             end="2025-04-30")),
    "support_summary": (
        "four ticket KPIs over the quarter (grain all): one scan of tickets by created_at, one by resolved_at",
        dict(kpis=["ticket_volume", "backlog_change", "first_response_time", "complaint_rate"], grain="all",
             **Q1)),
}


def header(case: str, dialect: str) -> str:
    """The comment a golden file starts with: the test that writes it, and what it shows."""
    what = CASES[case][0]
    if isinstance(what, dict):
        what = what.get(dialect, what["*"])
    return f"-- {Path(__file__).name}::test_golden_sql[{case}-{dialect}]: {what}\n"


def split_golden(text: str) -> tuple[str, str]:
    """(header, SQL) of a golden file: the header is its leading ``-- `` comment lines."""
    lines = text.splitlines(keepends=True)
    count = next((i for i, line in enumerate(lines) if not line.startswith("-- ")), len(lines))
    return "".join(lines[:count]), "".join(lines[count:])


@pytest.fixture(scope="module")
def project():
    return kpi_engine.load(GOLDEN / "project")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_sql(project, case, dialect, request):
    assert header(case, dialect).startswith(f"-- {Path(__file__).name}::{request.node.name}: ")
    options = dict(CASES[case][1])
    sql = project.compile(options.pop("kpis"), dialect=dialect, **options) + "\n"
    path = GOLDEN / case / f"{dialect}.sql"
    if request.config.getoption("--update-goldens"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header(case, dialect) + sql)
        return
    assert path.exists(), f"no golden file {path}; run pytest tests/test_golden.py --update-goldens"
    _, expected = split_golden(path.read_text())
    if sql != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), sql.splitlines(True),
                                            f"golden/{case}/{dialect}.sql", "compiled"))
        pytest.fail(f"compiled SQL differs from the golden file:\n{diff}", pytrace=False)


def test_every_golden_file_is_a_case():
    on_disk = {p.parent.name for p in GOLDEN.glob("*/*.sql")}
    assert on_disk <= set(CASES), f"stale golden folders: {on_disk - set(CASES)}"


def test_every_golden_file_says_which_test_made_it_and_what_it_shows():
    stale = [f"{path.relative_to(GOLDEN)}: {split_golden(path.read_text())[0]!r}"
             for case in sorted(CASES) for dialect in DIALECTS
             if (path := GOLDEN / case / f"{dialect}.sql").exists()
             and split_golden(path.read_text())[0] != header(case, dialect)]
    assert not stale, ("missing or stale headers (pytest tests/test_golden.py --update-goldens rewrites them):\n"
                       + "\n".join(stale))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_goldens_parse_back_in_their_dialect(dialect):
    """A syntax slip in a compile-only dialect shows here, even without the engine."""
    for path in sorted(GOLDEN.glob(f"*/{dialect}.sql")):
        _, sql = split_golden(path.read_text())
        assert sqlglot.parse_one(sql, read=dialect) is not None, path


@pytest.mark.parametrize(("text", "parts"), [
    ("-- t.py::t[a-b]: what\nSELECT 1\n", ("-- t.py::t[a-b]: what\n", "SELECT 1\n")),
    ("SELECT 1\n", ("", "SELECT 1\n")),
    ("-- one\n-- two\nSELECT '-- not a header'\n", ("-- one\n-- two\n", "SELECT '-- not a header'\n")),
])
def test_only_the_leading_comment_is_the_header(text, parts):
    assert split_golden(text) == parts
