"""Test helpers for connector authors: tables on real engines and pytest fixtures (needs pytest).

A connector's tests want the same rows on an engine they trust (DuckDB) and on theirs, and the
numbers compared. This package writes ``(column names, rows)`` tables into DuckDB, SQLite,
PostgreSQL or Parquet files (:mod:`kpi_engine.testing.tables`), gives the kpi.yml source that
reads them, and provides the fixtures kpi_engine's own tests use
(:mod:`kpi_engine.testing.fixtures`). Import the fixtures into your ``conftest.py``::

    from kpi_engine.testing import engine_source, no_kpi_environment, postgres_dsn  # noqa: F401

and use them in a test::

    def test_same_numbers_as_duckdb(tmp_path, engine_source):
        source = engine_source("duckdb", tmp_path, {"tickets": (["id", "created_at"], rows)})
        (tmp_path / "kpi.yml").write_text("sources:\\n" + source)

The connectors in the kpi_engine repository (``plugins/*/tests/conftest.py``) do just that, so
their tests run in a copy of their folder as they do in the repository.
"""

from kpi_engine.testing.fixtures import engine_source, no_kpi_environment, postgres_dsn, spark_ready
from kpi_engine.testing.tables import (
    SPARK_TEST_CONF,
    Table,
    column_type,
    drop_postgres_schema,
    new_postgres_schema,
    source_yaml,
    write_duckdb,
    write_parquet,
    write_sqlite,
    write_tables,
)

__all__ = [
    "SPARK_TEST_CONF",
    "Table",
    "column_type",
    "drop_postgres_schema",
    "engine_source",
    "new_postgres_schema",
    "no_kpi_environment",
    "postgres_dsn",
    "source_yaml",
    "spark_ready",
    "write_duckdb",
    "write_parquet",
    "write_sqlite",
    "write_tables",
]
