"""Shared fixtures: small projects on real engines, built from YAML text and Python rows."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import textwrap
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import kpi_engine

ENGINES = ("duckdb", "sqlite")

Table = tuple[Sequence[str], Sequence[Sequence[Any]]]


def _duckdb_type(values: list[Any]) -> str:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return "BOOLEAN"
    if isinstance(sample, dt.datetime):
        return "TIMESTAMP"
    if isinstance(sample, dt.date):
        return "DATE"
    if isinstance(sample, int):
        return "BIGINT"
    if isinstance(sample, float):
        return "DOUBLE"
    if isinstance(sample, Decimal):
        return "DECIMAL(18, 4)"
    return "VARCHAR"


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


def write_tables(engine: str, path: Path, tables: dict[str, Table]) -> None:
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect(str(path))
        try:
            for name, (columns, rows) in tables.items():
                types = [_duckdb_type([row[i] for row in rows]) for i in range(len(columns))]
                ddl = ", ".join(f'"{c}" {t}' for c, t in zip(columns, types))
                con.execute(f'CREATE TABLE "{name}" ({ddl})')
                if rows:
                    marks = ", ".join("?" for _ in columns)
                    con.executemany(f'INSERT INTO "{name}" VALUES ({marks})', [list(r) for r in rows])
        finally:
            con.close()
    else:
        con = sqlite3.connect(path)
        try:
            for name, (columns, rows) in tables.items():
                con.execute(f'CREATE TABLE "{name}" ({", ".join(chr(34) + c + chr(34) for c in columns)})')
                marks = ", ".join("?" for _ in columns)
                con.executemany(f'INSERT INTO "{name}" VALUES ({marks})',
                                [[_sqlite_value(v) for v in row] for row in rows])
            con.commit()
        finally:
            con.close()


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., kpi_engine.Project]:
    """make_project(definitions_yaml, tables, engine="duckdb") -> a loaded Project."""
    counter = iter(range(1000))

    def make(definitions: str | dict[str, str], tables: dict[str, Table] | None = None, *,
             engine: str = "duckdb", extra_config: str = "") -> kpi_engine.Project:
        root = tmp_path / f"project{next(counter)}"
        (root / "definitions").mkdir(parents=True)
        files = {"main.yml": definitions} if isinstance(definitions, str) else definitions
        for name, text in files.items():
            (root / "definitions" / name).write_text(textwrap.dedent(text))
        database = "data.duckdb" if engine == "duckdb" else "data.sqlite"
        write_tables(engine, root / database, tables or {})
        (root / "kpi.yml").write_text(
            f"name: test\nsources:\n  default:\n    connector: {engine}\n    database: {database}\n{extra_config}")
        return kpi_engine.load(root)

    return make


@pytest.fixture
def write_project(tmp_path: Path) -> Callable[..., Path]:
    """write_project({relative path: text}) -> the project folder (nothing loaded)."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "project"
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return root

    return write


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a test that takes more than a few seconds")


@pytest.fixture(autouse=True)
def _no_user_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never depend on the developer's own kpi.yml or variables."""
    for key in list(os.environ):
        if key.startswith("KPI_"):
            monkeypatch.delenv(key, raising=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/golden/*/*.sql from the compiler")


_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every engine and extra must be there."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") and _SKIPPED:
        print(f"\nCI=true: {len(_SKIPPED)} skipped test(s) count as failures: {', '.join(_SKIPPED[:5])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
