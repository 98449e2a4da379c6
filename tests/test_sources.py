"""A query over KPIs of several sources: one query per source, merged as if it were one.

tickets (DuckDB file):               calls (SQLite file, seconds):
    2025-01-10  email                    2025-02-03  phone  100
    2025-01-20  chat                     2025-03-09  chat    50
    2025-02-05  email

Without --from/--to the periods run from the earliest to the latest with rows in either source
(January to March); a period or channel one source has no rows for gives its KPIs their value
over no rows: 0 for a count, null for an average.
"""

from __future__ import annotations

import datetime as dt

import pytest

import kpi_engine
from support.engines import write_tables

T = dt.datetime

DEFINITIONS = """\
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions: {channel: channel}
  calls:
    source: legacy
    table: calls
    time: started_at
    dimensions: {channel: channel}
kpis:
  tickets_n: {dataset: tickets, formula: count()}
  calls_n: {dataset: calls, formula: count()}
  talk: {dataset: calls, formula: sum(seconds)}
  avg_talk: {dataset: calls, formula: avg(seconds)}
"""


@pytest.fixture
def project(tmp_path):
    write_tables("duckdb", tmp_path / "tickets.duckdb", {"tickets": (["created_at", "channel"], [
        (T(2025, 1, 10), "email"), (T(2025, 1, 20), "chat"), (T(2025, 2, 5), "email")])})
    write_tables("sqlite", tmp_path / "calls.sqlite", {"calls": (["started_at", "channel", "seconds"], [
        (T(2025, 2, 3), "phone", 100), (T(2025, 3, 9), "chat", 50)])})
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "main.yml").write_text(DEFINITIONS)
    (tmp_path / "kpi.yml").write_text("sources:\n  default: {connector: duckdb, database: tickets.duckdb}\n"
                                      "  legacy: {connector: sqlite, database: calls.sqlite}\n")
    with kpi_engine.load(tmp_path) as loaded:
        yield loaded


def test_periods_span_every_source_and_empty_periods_count_zero(project):
    result = project.query(["tickets_n", "calls_n", "talk", "avg_talk"])
    assert result.columns == ["period", "tickets_n", "calls_n", "talk", "avg_talk"]
    assert result.rows == [
        ("2025-01-01", 2, 0, 0, None),
        ("2025-02-01", 1, 1, 100, 100.0),
        ("2025-03-01", 0, 1, 50, 50.0),
    ]


def test_each_channel_of_either_source_in_every_period(project):
    result = project.query(["tickets_n", "calls_n", "avg_talk"], by=["channel"])
    assert result.rows == [
        ("2025-01-01", "chat", 1, 0, None), ("2025-01-01", "email", 1, 0, None), ("2025-01-01", "phone", 0, 0, None),
        ("2025-02-01", "chat", 0, 0, None), ("2025-02-01", "email", 1, 0, None), ("2025-02-01", "phone", 0, 1, 100.0),
        ("2025-03-01", "chat", 0, 1, 50.0), ("2025-03-01", "email", 0, 0, None), ("2025-03-01", "phone", 0, 0, None),
    ]


def test_one_bound_given_and_grain_all(project):
    # --to 2025-02-28: from the earliest period with rows (January) to February
    assert project.query(["tickets_n", "calls_n"], end="2025-02-28").rows == [
        ("2025-01-01", 2, 0), ("2025-02-01", 1, 1)]
    # --from 2025-02-01: to the latest period with rows in either source (March)
    assert project.query(["tickets_n", "calls_n"], start="2025-02-01").rows == [
        ("2025-02-01", 1, 1), ("2025-03-01", 0, 1)]
    assert project.query(["tickets_n", "talk"], grain="all").rows == [(3, 150)]
