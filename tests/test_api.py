"""The Python API (SPEC §6.2): load, query, compile, results, errors, threads."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading

import pytest

import kpi_engine
from support.engines import EXECUTED as ENGINES

DEFINITIONS = """
datasets:
  orders:
    table: orders
    time: ordered_at
    dimensions:
      region: region
kpis:
  revenue: {dataset: orders, formula: sum(amount), format: currency, target: 100}
  order_count: {dataset: orders, formula: count()}
  average_order: {formula: revenue / order_count}
"""
# 2025-01: north 10 + 30, south 20; 2025-02: north 50
ORDERS = (["order_id", "ordered_at", "region", "amount"], [
    (1, dt.datetime(2025, 1, 5), "north", 10.0),
    (2, dt.datetime(2025, 1, 6), "south", 20.0),
    (3, dt.datetime(2025, 1, 30), "north", 30.0),
    (4, dt.datetime(2025, 2, 14), "north", 50.0),
])


@pytest.fixture(params=ENGINES)
def project(request, make_project):
    return make_project(DEFINITIONS, {"orders": ORDERS}, engine=request.param)


def test_public_names_are_exported_and_importable():
    for name in kpi_engine.__all__:
        assert getattr(kpi_engine, name) is not None, name
    assert {"load", "Project", "Result", "KpiError", "hookimpl", "Connector", "FunctionSpec"} <= set(kpi_engine.__all__)
    with pytest.raises(AttributeError):
        kpi_engine.no_such_name  # noqa: B018


def test_importing_is_light():
    code = "import sys, kpi_engine; print(sorted(m for m in ('sqlglot', 'duckdb', 'pydantic', 'lark') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_query_and_result(project):
    result = project.query(["revenue", "order_count", "average_order"], grain="month", by=["region"],
                           start="2025-01-01", end=dt.date(2025, 2, 28))
    assert result.columns == ["period", "region", "revenue", "order_count", "average_order"]
    assert result.rows == [
        ("2025-01-01", "north", 40.0, 2, 20.0),   # 10 + 30 over 2 orders
        ("2025-01-01", "south", 20.0, 1, 20.0),
        ("2025-02-01", "north", 50.0, 1, 50.0),
        ("2025-02-01", "south", 0, 0, None),       # no orders: sum 0, ratio null
    ]
    assert result.to_dicts()[0] == {"period": "2025-01-01", "region": "north", "revenue": 40.0, "order_count": 2,
                                    "average_order": 20.0}
    assert "SELECT" in result.sql
    status = result.with_status()
    assert status.columns == ["period", "region", "revenue", "revenue__status", "order_count", "average_order"]
    assert [row[3] for row in status.rows] == ["bad", "bad", "bad", "bad"]  # every revenue is below 100


def test_where_and_single_names(project):
    result = project.query("revenue", where="region = 'north'", grain="all")
    assert result.rows == [(90.0,)]


def test_compile_returns_sql_for_any_dialect(project):
    sql = project.compile(["revenue"], dialect="bigquery", start="2025-01-01", end="2025-01-31")
    assert "GENERATE_ARRAY" in sql
    assert project.compile(["revenue"]) == project.query(["revenue"]).sql


def test_definitions_are_models(project):
    revenue = project.kpis["revenue"]
    assert isinstance(revenue, kpi_engine.Kpi)
    assert revenue.name == "revenue" and revenue.display_title == "Revenue" and revenue.target == 100
    assert revenue.status(150) == "ok" and revenue.status(None) is None
    assert isinstance(project.datasets["orders"], kpi_engine.Dataset)


def test_errors_carry_positions(make_project):
    with pytest.raises(kpi_engine.KpiError) as info:
        make_project("kpis:\n  x:\n    formula: count(\n")
    error = info.value
    assert isinstance(error, kpi_engine.FormulaError)
    assert error.file.endswith("main.yml") and (error.line, error.column) == (3, 19)


def test_query_errors(project):
    with pytest.raises(kpi_engine.QueryError, match="did you mean 'revenue'"):
        project.query(["revenu"])


def test_threads_share_a_project(project):
    expected = project.query(["revenue", "order_count"], by=["region"]).rows
    failures: list[BaseException] = []
    rounds = 2 if project.connectors["default"].name == "spark" else 15  # a Spark query takes ~0.5 s

    def work() -> None:
        try:
            for _ in range(rounds):
                assert project.query(["revenue", "order_count"], by=["region"]).rows == expected
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_pandas_and_arrow(project):
    pytest.importorskip("pandas")
    frame = project.query(["revenue"], grain="all").to_pandas()
    assert list(frame.columns) == ["revenue"] and frame.iloc[0, 0] == 110.0
    table = project.query(["revenue"], grain="year").to_arrow()
    assert table.column_names == ["period", "revenue"] and table.column("revenue").to_pylist() == [110.0]


def test_a_database_the_application_has_open_already(make_project):
    """An embedding application may hold the DuckDB file open (read-only, its own settings):
    DuckDB then refuses a connection with other settings, so kpi_engine uses the database as it is."""
    import duckdb

    project = make_project("""
    datasets:
      t: {table: t}
    kpis:
      n: {dataset: t, formula: count()}
    """, {"t": (["x"], [(1,), (2,)])})
    path = project.connectors["default"].path
    project.close()
    with duckdb.connect(str(path), read_only=True) as application:
        again = kpi_engine.load(project.root)
        try:
            assert again.query(["n"], grain="all").rows == [(2,)]
            assert application.execute("SELECT count(*) FROM t").fetchone() == (2,)
        finally:
            again.close()
