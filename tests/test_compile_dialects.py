"""`kpi compile --dialect` for every engine: SQL each dialect reads back, and that runs where it can.

DuckDB, SQLite, PostgreSQL and Spark execute in the tests: the SQL printed by
`kpi compile --dialect <engine>` is run on that engine as it is (not through
the engine's own query path) and must give the numbers worked out below.
Snowflake, BigQuery and Trino are compile-only: their SQL must parse back in
the dialect and use its own constructs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlglot
from click.testing import CliRunner

from support import engines
import kpi_engine
from kpi_engine.cli import main

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
kpis:
  solved_share:
    dataset: tickets
    formula: "count(where status = 'solved') / count()"
  volume_2m:
    dataset: tickets
    formula: rolling(count(), 2)
"""

T = dt.datetime
TICKETS = (["id", "created_at", "channel", "status"], [
    (1, T(2024, 12, 31, 23), "email", "solved"),  # before --from: read by rolling() only
    (2, T(2025, 1, 2, 10), "email", "solved"),
    (3, T(2025, 1, 20, 9), "email", "open"),
    (4, T(2025, 1, 31, 23, 59, 59), "chat", "solved"),
    (5, T(2025, 3, 1), "email", "open"),  # midnight of March 1st
])
# January: 3 tickets, 2 solved -> 2/3; rolling Dec+Jan = 1 + 3 = 4
# February: none -> null share; rolling Jan+Feb = 3
# March: 1 open -> 0.0; rolling Feb+Mar = 1
EXPECTED = [("2025-01-01", 2 / 3, 4), ("2025-02-01", None, 3), ("2025-03-01", 0.0, 1)]

#: What only each dialect's SQL says (a dialect's own spelling of the same query).
MARKERS = {
    "duckdb": "TO_MONTHS(",
    "sqlite": "STRFTIME('%Y'",
    "postgres": "EXTRACT(YEAR FROM",
    "spark": "EXPLODE(SEQUENCE(",
    "snowflake": "DATE_PART(YEAR,",
    "bigquery": "GENERATE_ARRAY(",
    "trino": "SEQUENCE(",
}
COMPILE_ONLY = ("snowflake", "bigquery", "trino")


def compile_sql(root, dialect: str) -> str:
    result = CliRunner().invoke(main, ["--project", str(root), "compile", "solved_share", "volume_2m",
                                       "--dialect", dialect, "--from", "2025-01-01", "--to", "2025-03-31"])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def project_root(tmp_path):
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "support.yml").write_text(DEFINITIONS)
    (tmp_path / "kpi.yml").write_text("name: dialects\n")
    return tmp_path


@pytest.mark.parametrize("dialect", sorted(MARKERS))
def test_compiled_sql_reads_back_in_its_dialect(project_root, dialect):
    text = compile_sql(project_root, dialect)
    assert MARKERS[dialect] in text
    tree = sqlglot.parse_one(text, read=dialect)  # raises on SQL the dialect cannot read
    assert isinstance(tree, sqlglot.exp.Select)
    assert [c.alias_or_name for c in tree.selects] == ["period", "solved_share", "volume_2m"]
    if dialect in ("snowflake", "bigquery"):
        assert "FILTER(" not in text  # neither has the FILTER clause


def test_the_readme_says_which_engines_ci_executes_and_which_are_compile_only():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = {line.split("|")[1].strip().lower(): line.lower() for line in readme.splitlines()
             if line.startswith("| ") and line.count("|") >= 3}
    for engine in engines.EXECUTED:
        assert "executed in ci" in table[engine], engine
    for dialect in COMPILE_ONLY:
        assert "compile-only" in table[dialect], dialect


@pytest.mark.parametrize("engine", engines.EXECUTED)
def test_compiled_sql_runs_as_printed_on_its_engine(project_root, engine_source, engine):
    source = engine_source(engine, project_root, {"tickets": TICKETS})
    (project_root / "kpi.yml").write_text(f"name: dialects\nsources:\n{source}")
    text = compile_sql(project_root, engine)
    project = kpi_engine.load(project_root)
    try:
        columns, rows = project.connection().execute(text)  # the printed SQL, as a user would run it
    finally:
        project.close()
    assert columns == ["period", "solved_share", "volume_2m"]
    assert rows == [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row) for row in EXPECTED]
