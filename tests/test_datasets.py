"""The kinds of dataset (table, sql, file), dimensions that are expressions, and one scan per dataset."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

import kpi_engine
from support.engines import EXECUTED as ENGINES

T = dt.datetime
# three orders in January (2 web, 1 app, amounts 10, 20, 30), one in February (web, 40)
ORDERS = (["id", "ordered_at", "channel", "amount"], [
    (1, T(2025, 1, 3), "web", 10.0), (2, T(2025, 1, 9), "app", 20.0), (3, T(2025, 1, 20), "web", 30.0),
    (4, T(2025, 2, 2), "web", 40.0),
])


def _write_orders_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    header = "id,ordered_at,channel,amount\n"
    (folder / "january.csv").write_text(header + "".join(
        f"{i},{t:%Y-%m-%d %H:%M:%S},{c},{a}\n" for i, t, c, a in ORDERS[1][:3]))
    (folder / "february.csv").write_text(header + "".join(
        f"{i},{t:%Y-%m-%d %H:%M:%S},{c},{a}\n" for i, t, c, a in ORDERS[1][3:]))
    (folder / "orders.json").write_text("\n".join(
        json.dumps({"id": i, "ordered_at": f"{t:%Y-%m-%d %H:%M:%S}", "channel": c, "amount": a})
        for i, t, c, a in ORDERS[1]))
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_csv_auto('{folder}/*.csv')) TO '{folder}/orders.parquet' (FORMAT PARQUET)")
    con.close()


@pytest.mark.parametrize("pattern", ["exports/*.csv", "exports/orders.parquet", "exports/orders.json"])
def test_file_datasets_over_csv_parquet_json_and_globs(write_project, pattern):
    root = write_project({
        "kpi.yml": "sources:\n  default:\n    connector: duckdb\n    database: ':memory:'\n",
        "definitions/a.yml": f"""
            datasets:
              orders:
                file: {pattern}
                time: ordered_at
                dimensions:
                  channel: channel
            kpis:
              revenue: {{dataset: orders, formula: sum(amount)}}
        """,
    })
    _write_orders_files(root / "exports")
    project = kpi_engine.load(root)
    # January 10 + 20 + 30, February 40
    assert project.query(["revenue"]).rows == [("2025-01-01", 60.0), ("2025-02-01", 40.0)]
    assert project.validate() == {"kpis": 1, "datasets": 1}


def test_a_file_dataset_needs_a_connector_that_reads_files(write_project):
    root = write_project({
        "kpi.yml": "sources:\n  default:\n    connector: sqlite\n    database: x.sqlite\n",
        "definitions/a.yml": "datasets:\n  orders:\n    file: exports/*.csv\n    time: ordered_at\n",
    })
    with pytest.raises(kpi_engine.DefinitionError, match="cannot read files") as info:
        kpi_engine.load(root)
    assert (info.value.line, info.value.column) == (3, 11)


@pytest.mark.parametrize("engine", ENGINES)
def test_sql_datasets_and_expression_dimensions(make_project, engine):
    project = make_project("""
        datasets:
          big_orders:
            sql: SELECT * FROM orders WHERE amount >= 20
            time: ordered_at
            dimensions:
              size: "if(amount >= 30, 'large', 'medium')"
        kpis:
          big_revenue: {dataset: big_orders, formula: sum(amount)}
    """, {"orders": ORDERS}, engine=engine)
    # rows of 20 or more: 20 (medium), 30 (large) in January; 40 (large) in February
    assert project.query(["big_revenue"], by=["size"]).rows == [
        ("2025-01-01", "large", 30.0), ("2025-01-01", "medium", 20.0),
        ("2025-02-01", "large", 40.0), ("2025-02-01", "medium", 0),
    ]


def test_schema_qualified_tables(tmp_path):
    root = tmp_path / "p"
    (root / "definitions").mkdir(parents=True)
    con = duckdb.connect(str(root / "db.duckdb"))
    con.execute("CREATE SCHEMA sales")
    con.execute("CREATE TABLE sales.orders AS SELECT * FROM (VALUES (TIMESTAMP '2025-03-01 10:00', 5.0)) t(ordered_at, amount)")
    con.close()
    (root / "kpi.yml").write_text("sources:\n  default:\n    connector: duckdb\n    database: db.duckdb\n")
    (root / "definitions" / "a.yml").write_text(
        "datasets:\n  orders:\n    table: sales.orders\n    time: ordered_at\n"
        "kpis:\n  revenue: {dataset: orders, formula: sum(amount)}\n")
    assert kpi_engine.load(root).query(["revenue"]).rows == [("2025-03-01", 5.0)]


def test_a_batch_of_kpis_reads_each_dataset_once():
    project = kpi_engine.load(Path(__file__).parent / "golden" / "project")
    kpis = ["ticket_volume", "first_contact_resolution", "first_response_time", "complaints",
            "average_resolution_time", "channel_share"]
    sql = project.compile(kpis, by=["channel"], start="2025-01-01", end="2025-12-31")
    assert sql.count("FROM tickets AS tickets") == 1
    assert "FILTER(WHERE" in sql
