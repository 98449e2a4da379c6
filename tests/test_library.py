"""The shipped KPI library: well described, and the same numbers on DuckDB, on SQLite and in plain Python.

The demo data (deterministic) is written to a DuckDB file and copied to a
SQLite file the way SQLite stores such data (ISO text timestamps, 0/1
booleans). Every KPI of the library runs at every grain, with and without
dimensions, on both engines; each result must equal the plain-Python
reference (tests/support/reference.py), computed from the same rows.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

import kpi_engine
from support.engines import write_tables
from support.library_queries import approx, queryable, without_periods
from kpi_engine.demo.data import generate
from support.reference import evaluate, load_definitions

LIBRARY = Path(__file__).resolve().parents[1] / "definitions"
TABLES = ("customers", "tickets", "calls", "surveys", "marketing_spend", "orders")
D = dt.date


@pytest.fixture(scope="module")
def demo_rows():
    con = duckdb.connect()
    generate(con, 3000)
    tables = {}
    for name in TABLES:
        cursor = con.execute(f"SELECT * FROM {name} ORDER BY 1")
        tables[name] = ([d[0] for d in cursor.description], cursor.fetchall())
    con.close()
    return tables


@pytest.fixture(scope="module")
def projects(demo_rows, tmp_path_factory):
    out = {}
    for engine in ("duckdb", "sqlite"):
        root = tmp_path_factory.mktemp(engine)
        shutil.copytree(LIBRARY, root / "definitions")
        database = f"demo.{engine}"
        write_tables(engine, root / database, demo_rows)
        (root / "kpi.yml").write_text(f"sources:\n  default:\n    connector: {engine}\n    database: {database}\n")
        out[engine] = kpi_engine.load(root)
    return out


@pytest.fixture(scope="module")
def reference_data(demo_rows):
    return {name: [dict(zip(columns, row)) for row in rows] for name, (columns, rows) in demo_rows.items()}


def test_every_kpi_is_documented_and_has_a_sensible_shape():
    project = kpi_engine.load(LIBRARY.parent)
    assert len(project.kpis) >= 25
    for name, kpi in project.kpis.items():
        assert kpi.title and kpi.description and len(kpi.description) > 40, name
        assert kpi.direction in ("higher", "lower", "none"), name
        if kpi.target is not None:
            assert kpi.direction != "none", name
        if kpi.format == "percent" and kpi.target is not None:
            assert 0 <= kpi.target <= 1, f"{name}: percent targets are fractions"
    issue_list = {"ticket_volume", "backlog_change", "average_handle_time", "average_wait_time", "first_response_time",
                  "average_resolution_time", "first_contact_resolution", "abandonment_rate", "service_level",
                  "complaints", "channel_share", "csat", "nps", "ces", "new_customers", "active_customers",
                  "churn_rate", "retention_rate", "cac", "arpu", "gross_margin", "ltv", "monthly_sales_growth",
                  "average_order_value"}
    assert issue_list <= set(project.kpis)


QUERIES = [
    ("month", (), D(2025, 1, 1), D(2025, 12, 31)),
    ("month", ("plan",), D(2025, 7, 1), D(2025, 12, 31)),
    ("month", ("channel",), D(2024, 11, 1), D(2025, 2, 28)),
    ("month", ("acquisition_channel",), D(2025, 1, 1), D(2025, 6, 30)),
    ("week", (), D(2025, 3, 1), D(2025, 4, 15)),
    ("quarter", ("region",), None, None),
    ("year", (), None, None),
    ("day", (), D(2025, 2, 26), D(2025, 3, 3)),
    ("all", ("plan",), D(2025, 1, 1), D(2025, 3, 31)),
]


@pytest.mark.parametrize("grain, by, start, end", QUERIES, ids=[f"{q[0]}-{'-'.join(q[1]) or 'total'}" for q in QUERIES])
def test_library_numbers_on_duckdb_and_sqlite_equal_the_reference(projects, reference_data, grain, by, start, end):
    duck = projects["duckdb"]
    names = queryable(duck, by)
    if grain == "all":
        names = [n for n in names if without_periods(duck, n)]
    assert len(names) >= 8
    expected_columns, expected_rows = evaluate(load_definitions(sorted(LIBRARY.glob("*.yml"))), reference_data,
                                               names, grain=grain, by=by, start=start, end=end)
    assert expected_rows, "the reference found rows"
    for engine, project in projects.items():
        result = project.query(names, grain=grain, by=by, start=start, end=end)
        assert result.columns == expected_columns, engine
        assert result.rows == approx(expected_rows), engine
