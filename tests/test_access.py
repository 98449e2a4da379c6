"""Row-level access (filters forced onto every dataset a query reads), the dimensions a query may use,
a KPI's description, and partial periods. Every number is counted by hand from the rows below.

    tickets (time created_at)                 customers (time signup_at)
    id  created_at   region  channel         id  signup_at    region
    1   2025-01-05   EU      email           1   2025-01-02   EU
    2   2025-01-20   US      chat            2   2025-01-03   US
    3   2025-02-03   EU      chat            3   2025-02-10   US
    4   2025-02-10   US      email
"""

from __future__ import annotations

import datetime as dt

import pytest

import kpi_engine

D = dt.date
DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions: {region: region, channel: channel}
  customers:
    table: customers
    time: signup_at
    dimensions: {region: region}
kpis:
  volume: {dataset: tickets, formula: count()}
  share: {dataset: tickets, formula: count() / total(count())}
  signups: {dataset: customers, formula: count()}
  per_signup: {formula: volume / signups, title: Tickets per signup, tags: [support]}
  emails: {dataset: tickets, formula: "count(where channel = 'email')", hidden: true}
"""
TABLES = {
    "tickets": (["id", "created_at", "region", "channel"], [
        (1, D(2025, 1, 5), "EU", "email"), (2, D(2025, 1, 20), "US", "chat"),
        (3, D(2025, 2, 3), "EU", "chat"), (4, D(2025, 2, 10), "US", "email")]),
    "customers": (["id", "signup_at", "region"], [
        (1, D(2025, 1, 2), "EU"), (2, D(2025, 1, 3), "US"), (3, D(2025, 2, 10), "US")]),
}
EU = ["region = 'EU'"]


@pytest.fixture
def project(make_project):
    return make_project(DEFINITIONS, TABLES)


def test_a_forced_filter_cannot_be_widened(project):
    # EU tickets: 1 (Jan), 3 (Feb); EU customers: 1 (Jan)
    assert project.query(["volume"], filters=EU).rows == [("2025-01-01", 1), ("2025-02-01", 1)]
    for where in ("region = 'US' or 1 = 1", "true or true", "region = 'US'"):
        rows = project.query(["volume"], grain="all", where=where, filters=EU).rows
        assert rows == [(0,)] if where == "region = 'US'" else [(2,)], where
    # total() is the total of what the token sees: EU email 1 of 2 EU tickets
    assert project.query(["share"], grain="all", by=["channel"], filters=EU).rows == [("chat", 0.5), ("email", 0.5)]
    # a derived KPI reads both datasets under the filter: 2 EU tickets / 1 EU signup
    assert project.query(["per_signup"], grain="all", filters=EU).rows == [(2.0,)]
    assert "'EU'" in project.compile(["volume"], filters=EU)


def test_a_dataset_the_filter_cannot_limit_makes_the_query_forbidden(project):
    with pytest.raises(kpi_engine.ForbiddenError) as caught:
        project.query(["signups"], filters=["channel = 'email'"])
    assert caught.value.code == "forbidden" and "dataset 'customers'" in caught.value.message
    assert "channel = 'email'" not in caught.value.message  # the server's filter is not shown


def test_dimensions_and_the_kpis_each_applies_to(project):
    assert project.dimensions() == [
        {"name": "channel", "datasets": ["tickets"], "kpis": ["volume", "share", "emails"]},
        {"name": "region", "datasets": ["customers", "tickets"],
         "kpis": ["volume", "share", "signups", "per_signup", "emails"]},
    ]
    assert project.dimensions(["signups"]) == [{"name": "region", "datasets": ["customers", "tickets"],
                                                "kpis": ["signups"]}]
    with pytest.raises(kpi_engine.QueryError, match="did you mean 'volume'"):
        project.dimensions(["volum"])


def test_describe_a_kpi(project):
    described = project.describe("per_signup")
    assert (described["title"], described["formula"], described["uses"], described["dimensions"],
            described["tags"], described["dataset"]) == (
        "Tickets per signup", "volume / signups", ["volume", "signups"], ["region"], ["support"], None)


def test_the_period_holding_today_is_partial(project, monkeypatch):
    monkeypatch.setattr(type(project), "today", lambda self, timezone=None: D(2025, 2, 14))
    result = project.query(["volume"])
    assert result.partial_periods == ["2025-02-01"]
    assert project.query(["volume"], grain="all").partial_periods == []
    monkeypatch.setattr(type(project), "today", lambda self, timezone=None: D(2026, 1, 1))
    assert project.query(["volume"]).partial_periods == []
