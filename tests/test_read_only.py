"""Running KPIs never changes data, on every executed engine.

A dataset whose ``sql:`` writes is refused before anything runs (exit 1, at its
position in the file); a write sent straight to a connection fails at the
source (the sessions are read-only); and after all the attempts the data is
what it was: the same rows through the engine, and the same bytes on disk for
the engines that keep data in files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from support import engines
import kpi_engine
from kpi_engine.cli import main
from kpi_engine.errors import SourceError

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
kpis:
  volume: {dataset: tickets, formula: count()}
  handle: {dataset: tickets, formula: sum(handle_seconds)}
"""
TICKETS = (["id", "created_at", "handle_seconds"], [
    (1, dt.datetime(2025, 1, 2, 10), 100),
    (2, dt.datetime(2025, 1, 20, 9), 250),
    (3, dt.datetime(2025, 2, 3, 8), 40),
])
# January: 2 tickets, 350 s; February: 1 ticket, 40 s
EXPECTED = [{"period": "2025-01-01", "volume": 2, "handle": 350}, {"period": "2025-02-01", "volume": 1, "handle": 40}]

WRITING_SQL = [
    "DELETE FROM tickets",
    "UPDATE tickets SET handle_seconds = 0",
    "INSERT INTO tickets SELECT * FROM tickets",
    "CREATE TABLE copied AS SELECT * FROM tickets",
    "DROP TABLE tickets",
    "SELECT * FROM tickets; DROP TABLE tickets",
]
DIRECT_WRITES = [
    "DELETE FROM tickets",
    "UPDATE tickets SET handle_seconds = 0",
    "INSERT INTO tickets (id) VALUES (99)",
    "DROP TABLE tickets",
    "CREATE TABLE copied AS SELECT * FROM tickets",
]


def kpi(root: Path, *args: str):
    return CliRunner().invoke(main, ["--project", str(root), *args])


def fingerprint(root: Path) -> dict[str, str]:
    """The bytes of every data file under the project (DuckDB, SQLite and Parquet files)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in (".duckdb", ".sqlite", ".parquet")}


@pytest.fixture(params=engines.EXECUTED)
def project_root(request, tmp_path, engine_source):
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "main.yml").write_text(DEFINITIONS)
    source = engine_source(request.param, tmp_path, {"tickets": TICKETS})
    (tmp_path / "kpi.yml").write_text(f"name: read-only\nsources:\n{source}")
    return tmp_path


def numbers(root: Path) -> list[dict]:
    result = kpi(root, "run", "volume", "handle", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_nothing_writes_and_the_data_is_unchanged(project_root):
    assert numbers(project_root) == EXPECTED
    files = fingerprint(project_root)
    definitions = project_root / "definitions"

    for statement in WRITING_SQL:
        (definitions / "evil.yml").write_text(f"datasets:\n  evil:\n    sql: \"{statement}\"\n    time: created_at\n")
        result = kpi(project_root, "run", "volume")
        assert result.exit_code == 1, (statement, result.output)
        assert "evil.yml:3:10" in result.stderr and "Traceback" not in result.output, statement
    (definitions / "evil.yml").unlink()

    project = kpi_engine.load(project_root)
    try:
        for statement in DIRECT_WRITES:
            with pytest.raises(SourceError):
                project.connection().execute(statement)
    finally:
        project.close()

    assert numbers(project_root) == EXPECTED
    assert fingerprint(project_root) == files
