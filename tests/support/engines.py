"""The engines this test run executes KPIs on, and the tables written to them.

:data:`EXECUTED` is every engine with a connector the tests can run (DuckDB, SQLite,
PostgreSQL, Spark), or those ``TEST_ENGINES`` names. The table writers (a table is
``(column names, rows)``) come from :mod:`kpi_engine.testing`, where connector authors
get them too; they are re-exported here so a test needs one import.
"""

from __future__ import annotations

import os

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
    "ALL_EXECUTED",
    "EXECUTED",
    "SPARK_TEST_CONF",
    "Table",
    "column_type",
    "drop_postgres_schema",
    "executed_engines",
    "new_postgres_schema",
    "source_yaml",
    "write_duckdb",
    "write_parquet",
    "write_sqlite",
    "write_tables",
]

#: Every engine the tests can run KPIs on (the others are compile-only).
ALL_EXECUTED = ("duckdb", "sqlite", "postgres", "spark")


def executed_engines(setting: str | None) -> tuple[str, ...]:
    """The engines named by ``TEST_ENGINES`` (comma-separated), or all of them when it is unset.

    A run without PostgreSQL and Spark (CI's lowest-versions run installs only the core
    package) names ``duckdb,sqlite``, so those tests are not collected rather than skipped:
    with ``CI=true`` a skip is a failure. An unknown name is an error, never a silent no-op.
    """
    names = [name.strip().lower() for name in (setting or "").split(",") if name.strip()]
    if not names:
        return ALL_EXECUTED
    unknown = [name for name in names if name not in ALL_EXECUTED]
    if unknown:
        raise ValueError(f"TEST_ENGINES: unknown engine(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(ALL_EXECUTED)}")
    return tuple(engine for engine in ALL_EXECUTED if engine in names)


#: The engines this run executes KPIs on: all of them, or those ``TEST_ENGINES`` names.
EXECUTED = executed_engines(os.environ.get("TEST_ENGINES"))
