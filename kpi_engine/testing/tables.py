"""The same rows as tables on DuckDB, SQLite, PostgreSQL and Spark, and the kpi.yml source reading them.

A table is ``(column names, rows)`` of Python values. Each engine stores it the
way users' data looks there: DuckDB and PostgreSQL with typed columns, SQLite
with ISO text timestamps and 0/1 booleans, Spark as Parquet files registered
as views (written by DuckDB, so the types are the same as DuckDB's).
:func:`source_yaml` gives the ``sources.default`` block of a kpi.yml reading them,
so a test can run one project on several engines and compare the numbers.
PostgreSQL needs ``psycopg``; the other engines need nothing beyond kpi_engine.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = [
    "SPARK_TEST_CONF",
    "Table",
    "column_type",
    "drop_postgres_schema",
    "new_postgres_schema",
    "source_yaml",
    "write_duckdb",
    "write_parquet",
    "write_sqlite",
    "write_tables",
]

Table = tuple[Sequence[str], Sequence[Sequence[Any]]]

#: Spark settings for tests: small shuffles, no web UI, UTC session time.
SPARK_TEST_CONF = {"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false",
                   "spark.sql.session.timeZone": "UTC"}


def column_type(values: Sequence[Any], engine: str = "duckdb") -> str:
    """The SQL type of a column from its first non-null value (text when all are null)."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        kind = "BOOLEAN"
    elif isinstance(sample, dt.datetime):
        kind = "TIMESTAMP"
    elif isinstance(sample, dt.date):
        kind = "DATE"
    elif isinstance(sample, int):
        kind = "BIGINT"
    elif isinstance(sample, float):
        kind = "DOUBLE"
    elif isinstance(sample, Decimal):
        kind = "DECIMAL(18, 4)"
    else:
        kind = "VARCHAR"
    if engine == "postgres":
        return {"DOUBLE": "DOUBLE PRECISION", "VARCHAR": "TEXT"}.get(kind, kind)
    return kind


def _ddl(name: str, table: Table, engine: str) -> str:
    columns, rows = table
    types = [column_type([row[i] for row in rows], engine) for i in range(len(columns))]
    return f'CREATE TABLE "{name}" ({", ".join(f"{chr(34)}{c}{chr(34)} {t}" for c, t in zip(columns, types))})'


def _sqlite_value(value: Any) -> Any:
    """SQLite's own conventions: ISO text for times, 0/1 for booleans."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def write_duckdb(path: Path | str, tables: dict[str, Table]) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    try:
        for name, table in tables.items():
            con.execute(_ddl(name, table, "duckdb"))
            columns, rows = table
            if rows:
                marks = ", ".join("?" for _ in columns)
                con.executemany(f'INSERT INTO "{name}" VALUES ({marks})', [list(r) for r in rows])
    finally:
        con.close()


def write_sqlite(path: Path, tables: dict[str, Table]) -> None:
    con = sqlite3.connect(path)
    try:
        for name, (columns, rows) in tables.items():
            # declared types as tools write them (BOOLEAN, TIMESTAMP, ...): values keep SQLite's own forms
            con.execute(_ddl(name, (columns, rows), "sqlite"))
            marks = ", ".join("?" for _ in columns)
            con.executemany(f'INSERT INTO "{name}" VALUES ({marks})', [[_sqlite_value(v) for v in row] for row in rows])
        con.commit()
    finally:
        con.close()


def write_tables(engine: str, path: Path, tables: dict[str, Table]) -> None:
    """Write tables into a DuckDB (``engine="duckdb"``) or SQLite database file."""
    (write_duckdb if engine == "duckdb" else write_sqlite)(path, tables)


def write_parquet(folder: Path, tables: dict[str, Table]) -> dict[str, str]:
    """One Parquet file per table (typed by DuckDB); returns {table: file path}."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    paths = {}
    try:
        for name, table in tables.items():
            con.execute(_ddl(name, table, "duckdb"))
            columns, rows = table
            if rows:
                con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" for _ in columns)})',
                                [list(r) for r in rows])
            path = folder / f"{name}.parquet"
            con.execute(f"COPY \"{name}\" TO '{path}' (FORMAT parquet)")
            paths[name] = str(path)
    finally:
        con.close()
    return paths


def new_postgres_schema(dsn: str, tables: dict[str, Table]) -> str:
    """A new schema holding the tables; returns its name (drop it with :func:`drop_postgres_schema`)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
        for name, table in tables.items():
            con.execute(_ddl(name, table, "postgres").replace('CREATE TABLE "', f'CREATE TABLE "{schema}"."', 1))
            columns, rows = table
            if rows:
                names = ", ".join(f'"{c}"' for c in columns)
                with con.cursor().copy(f'COPY "{schema}"."{name}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
    return schema


def drop_postgres_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def source_yaml(engine: str, root: Path, tables: dict[str, Table], *, postgres_dsn: str | None = None,
                cleanups: list[Callable[[], None]] | None = None) -> str:
    """Write the tables for ``engine`` under ``root``; return the kpi.yml ``default`` source block.

    ``cleanups`` receives callables that remove what was created outside ``root``
    (a PostgreSQL schema).
    """
    if engine in ("duckdb", "sqlite"):
        database = f"data.{engine}"
        write_tables(engine, root / database, tables)
        return f"  default:\n    connector: {engine}\n    database: {database}\n"
    if engine == "postgres":
        if not postgres_dsn:
            raise ValueError("engine 'postgres' needs postgres_dsn= (the DSN of the postgres_dsn fixture)")
        schema = new_postgres_schema(postgres_dsn, tables)
        if cleanups is not None:
            cleanups.append(lambda: drop_postgres_schema(postgres_dsn, schema))
        return f"  default:\n    connector: postgres\n    dsn: '{postgres_dsn}'\n    schema: {schema}\n"
    if engine == "spark":
        paths = write_parquet(root / "parquet", tables)
        conf = "".join(f"      {key}: '{value}'\n" for key, value in SPARK_TEST_CONF.items())
        views = "".join(f"      {name}: '{path}'\n" for name, path in paths.items())
        return (f"  default:\n    connector: spark\n    master: 'local[2]'\n    conf:\n{conf}"
                + (f"    views:\n{views}" if views else ""))
    raise ValueError(f"unknown engine {engine!r}")
