"""A query without --from/--to in a zone other than UTC, on DuckDB: the range of its rows' times is measured
first (once while the file is open: no one can write it meanwhile), and its periods are cut with the
zone's offsets in that range only (no conversion per row, no comparison with fifty years of offset
changes). The numbers must not change.

The tickets (naive UTC times of a UTC dataset), in a calendar of America/New_York, worked out by hand:

    2024-12-01 04:59:59  EST (-5): Nov 30 23:59:59   -> 2024-11
    2024-12-01 05:00:00  EST: Dec 1 00:00            -> 2024-12
    2025-03-01 04:59:59  EST: Feb 28 23:59:59        -> 2025-02
    2025-03-01 05:00:00  EST: Mar 1 00:00            -> 2025-03
    2025-03-09 07:00:00  the DST change: 03:00 EDT   -> 2025-03
    2025-11-01 03:59:59  EDT (-4): Oct 31 23:59:59   -> 2025-10
    2025-11-01 04:00:00  EDT: Nov 1 00:00            -> 2025-11
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pytest

from kpi_engine.compiler.query import Query

T = dt.datetime
DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
kpis:
  volume: {dataset: tickets, formula: count()}
"""
ROWS = [T(2024, 12, 1, 4, 59, 59), T(2024, 12, 1, 5), T(2025, 3, 1, 4, 59, 59), T(2025, 3, 1, 5), T(2025, 3, 9, 7),
        T(2025, 11, 1, 3, 59, 59), T(2025, 11, 1, 4)]
MONTHS = {"2024-11-01": 1, "2024-12-01": 1, "2025-02-01": 1, "2025-03-01": 2, "2025-10-01": 1, "2025-11-01": 1}
NEW_YORK = "calendar:\n  timezone: America/New_York\n"


def tickets(*times: dt.datetime) -> dict:
    return {"tickets": (["id", "created_at"], [(i, t) for i, t in enumerate(times, 1)])}


def expected_months(first: str, last: str) -> list[tuple[str, int]]:
    """Every month from first to last, with the hand-worked counts (0 elsewhere)."""
    months, day = [], dt.date.fromisoformat(first)
    while day.isoformat() <= last:
        months.append((day.isoformat(), MONTHS.get(day.isoformat(), 0)))
        day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_months_of_new_york_without_bounds(make_project, engine):
    project = make_project(DEFINITIONS, tickets(*ROWS), engine=engine, extra_config=NEW_YORK)
    result = project.query("volume", grain="month")
    assert result.rows == expected_months("2024-11-01", "2025-11-01")


def test_duckdb_measures_the_range_then_cuts_with_its_offsets_only(make_project):
    project = make_project(DEFINITIONS, tickets(*ROWS), extra_config=NEW_YORK)
    general = project.compiled(Query.create("volume", grain="month"))
    # compiled alone, the SQL converts what falls outside 1970 to next year, and asks for the range
    assert "TIMEZONE(" in general.sql and general.extent_keys == (("tickets", "created_at"),)
    result = project.query("volume", grain="month")
    # run, the range is 2024-12-01 04:59:59 to 2025-11-01 04:00 (local Nov 30, 2024 to Nov 1, 2025), nothing
    # converted: a row's month comes from the UTC instants the twelve months from December start at, 05:00 under
    # EST (to March), 04:00 under EDT (April to November: the clocks go back on 2 November)
    assert "TIMEZONE(" not in result.sql
    starts = {"2024-12-01 05:00:00"} | {f"2025-{m:02}-01 05:00:00" for m in (1, 2, 3)} \
        | {f"2025-{m:02}-01 04:00:00" for m in range(4, 12)}
    assert set(re.findall(r"CAST\('([^']+)' AS TIMESTAMP\)", result.sql)) == starts
    assert result.rows == expected_months("2024-11-01", "2025-11-01")
    # the transaction that measured the range is over: the connection begins another
    connection = project.connection()
    connection.execute("BEGIN TRANSACTION")
    connection.execute("ROLLBACK")


def test_times_beyond_the_known_offsets_are_converted(make_project):
    # zoneinfo's changes are read up to 2100: a range that ends later is not used. 2150-07-01 04:30 UTC is
    # 00:30 EDT (-4) on July 1; with the last offset known (EST, from November 2099) it would be June 30
    project = make_project(DEFINITIONS, tickets(*ROWS, T(2150, 7, 1, 4, 30)), extra_config=NEW_YORK)
    result = project.query("volume", grain="month")
    assert result.rows[-2:] == [("2150-06-01", 0), ("2150-07-01", 1)]
    assert result.rows[:13] == expected_months("2024-11-01", "2025-11-01")
    assert "TIMEZONE(" in result.sql


def test_a_dataset_without_rows_has_no_range_and_no_periods(make_project):
    project = make_project(DEFINITIONS.replace("table: tickets", "sql: SELECT * FROM tickets WHERE id < 0"),
                           tickets(*ROWS), extra_config=NEW_YORK)
    assert project.query("volume", grain="month").rows == []


def test_a_file_dataset_is_not_measured(make_project, tmp_path):
    csv = tmp_path / "tickets.csv"
    csv.write_text("id,created_at\n" + "".join(f"{i},{t.isoformat(sep=' ')}\n" for i, t in enumerate(ROWS, 1)))
    project = make_project(DEFINITIONS.replace("table: tickets", f"file: {csv}"), extra_config=NEW_YORK)
    assert project.compiled(Query.create("volume", grain="month")).extent_sql is None
    assert project.query("volume", grain="month").rows == expected_months("2024-11-01", "2025-11-01")


def test_the_range_is_measured_once_while_the_database_is_open(make_project, monkeypatch):
    from kpi_engine.project import Project

    measured = []
    measure = Project._measure

    def counted(self, *args):
        measured.append(1)
        return measure(self, *args)

    monkeypatch.setattr(Project, "_measure", counted)
    project = make_project(DEFINITIONS, tickets(*ROWS), extra_config=NEW_YORK)
    for _ in range(3):
        assert project.query("volume", grain="month").rows == expected_months("2024-11-01", "2025-11-01")
    assert len(measured) == 1
    project.close()  # a writer may change the file now: the range is measured again
    assert project.query("volume", grain="month").rows == expected_months("2024-11-01", "2025-11-01")
    assert len(measured) == 2


def test_no_one_writes_the_file_while_the_range_is_kept(make_project):
    # what keeping the range rests on: DuckDB locks a writer out of a file a read-only handle holds, in
    # another process too
    project = make_project(DEFINITIONS, tickets(*ROWS), extra_config=NEW_YORK)
    project.query("volume", grain="month")
    database = project.connectors["default"].path
    writer = ("import duckdb, sys\n"
              "try:\n    duckdb.connect(sys.argv[1]).execute('DELETE FROM tickets')\n"
              "except duckdb.Error as exc:\n    print(type(exc).__name__)\nelse:\n    print('written')\n")
    done = subprocess.run([sys.executable, "-c", writer, str(database)], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "IOException", done.stderr
    assert project.query("volume", grain="month").rows == expected_months("2024-11-01", "2025-11-01")


def test_a_database_in_memory_keeps_nothing(tmp_path):
    from kpi_engine.sources.duckdb import DuckDBConnector, DuckDBOptions

    in_memory = DuckDBConnector(DuckDBOptions(), base_dir=tmp_path)
    in_memory.connect()
    assert in_memory.while_open() is None
    in_memory.close()


@pytest.mark.parametrize("bounds", [{}, {"start": "2024-11-01", "end": "2025-11-30"}])
def test_an_instant_column_is_compared_by_its_microseconds(make_project, bounds):
    # TIMESTAMPTZ on DuckDB: CAST(instant AS TIMESTAMP) (or YEAR of an instant) goes through ICU for each row;
    # its UTC wall time is MAKE_TIMESTAMP(EPOCH_US(instant)), and the months are the same
    definitions = DEFINITIONS.replace(
        "table: tickets", "sql: SELECT id, CAST(created_at AS TIMESTAMPTZ) AS created_at FROM tickets")
    project = make_project(definitions, tickets(*ROWS), extra_config=NEW_YORK)
    result = project.query("volume", grain="month", **bounds)
    assert "MAKE_TIMESTAMP(EPOCH_US(tickets.created_at))" in result.sql
    assert "CAST(tickets.created_at AS TIMESTAMP)" not in result.sql
    assert result.rows == expected_months("2024-11-01", "2025-11-01")
