"""Same answers everywhere: every KPI × every grain × every executed engine, against plain Python.

The tables of tests/support/edge_data.py (nulls, empty periods and groups, ties,
unicode, timestamps on period boundaries, customers who start and end in the
same period) are written to DuckDB, SQLite, PostgreSQL and Spark. The shipped
library plus the KPIs of tests/differential/edge_kpis.yml (every aggregate,
period function and row function) run on each engine at every grain, with and
without dimensions; each result must equal the plain-Python reference
(tests/support/reference.py) computed from the same rows — never another engine's output.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from support import edge_data
from support import engines
import kpi_engine
from support.library_queries import approx, queryable, without_periods
from support.reference import evaluate, load_definitions

ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = [*sorted((ROOT / "definitions").glob("*.yml")), ROOT / "tests" / "differential" / "edge_kpis.yml"]
D = dt.date

QUERIES = [
    # (grain, by, start, end); None bounds: from the first to the last period with rows
    ("day", (), D(2024, 12, 30), D(2025, 1, 7)),
    ("day", ("channel",), D(2025, 5, 30), D(2025, 6, 2)),
    ("week", (), D(2024, 12, 1), D(2025, 2, 28)),
    ("week", ("plan",), D(2025, 2, 17), D(2025, 4, 13)),
    ("month", (), None, None),
    ("month", ("region",), D(2024, 11, 1), D(2025, 6, 30)),
    ("month", ("acquisition_channel",), D(2025, 1, 1), D(2025, 6, 30)),
    ("month", ("plan",), D(2025, 2, 1), D(2025, 4, 30)),
    ("quarter", ("plan",), None, None),
    ("quarter", ("channel",), D(2024, 10, 1), D(2025, 9, 30)),
    ("year", (), D(2023, 1, 1), D(2025, 12, 31)),
    ("year", ("region",), None, None),
    ("all", (), D(2025, 1, 1), D(2025, 6, 30)),
    ("all", ("channel",), None, None),
]
IDS = [f"{grain}-{'-'.join(by) or 'total'}-{start or 'rows'}" for grain, by, start, _ in QUERIES]


@pytest.fixture(scope="module")
def tables():
    return edge_data.generate()


@pytest.fixture(scope="module")
def reference_data(tables):
    return {name: [dict(zip(columns, row)) for row in rows] for name, (columns, rows) in tables.items()}


@pytest.fixture(scope="module")
def definitions():
    return load_definitions(DEFINITIONS)


@pytest.fixture(scope="module", params=engines.EXECUTED)
def project(request, tables, tmp_path_factory):
    """The library and the edge KPIs over the edge tables, on one engine."""
    engine = request.param
    dsn = request.getfixturevalue("postgres_dsn") if engine == "postgres" else None
    if engine == "spark":
        request.getfixturevalue("spark_ready")
    root = tmp_path_factory.mktemp(f"differential-{engine}")
    (root / "definitions").mkdir()
    for path in DEFINITIONS:
        shutil.copy(path, root / "definitions" / path.name)
    cleanups: list = []
    source = engines.source_yaml(engine, root, tables, postgres_dsn=dsn, cleanups=cleanups)
    (root / "kpi.yml").write_text(f"name: differential\nsources:\n{source}")
    loaded = kpi_engine.load(root)
    yield engine, loaded
    loaded.close()
    for cleanup in cleanups:
        cleanup()


def test_the_edge_tables_have_the_awkward_cases(tables):
    """The cases this suite is for are really in the data (not a property of a lucky seed)."""
    columns, rows = tables["tickets"]
    created = [r[columns.index("created_at")] for r in rows]
    assert not any(edge_data.EMPTY_MONTH[0] <= t < edge_data.EMPTY_MONTH[1] for t in created)
    assert {dt.datetime(2025, 1, 1), dt.datetime(2024, 12, 31, 23, 59, 59, 999999)} <= set(created)
    assert any(r[columns.index("channel")] is None for r in rows)
    columns, rows = tables["customers"]
    signup, churn = columns.index("signup_at"), columns.index("churned_at")
    assert any(r[churn] and (r[churn].year, r[churn].month) == (r[signup].year, r[signup].month) for r in rows)
    assert any(r[churn] and r[churn] <= r[signup] for r in rows)
    assert any(r[columns.index("region")] == "東京" for r in rows)
    handle = [r[13] for r in tables["tickets"][1] if r[13] is not None]
    assert len(handle) - len(set(handle)) > 100, "ties"


@pytest.mark.parametrize(("grain", "by", "start", "end"), QUERIES, ids=IDS)
def test_every_kpi_on_every_engine_equals_the_reference(project, definitions, reference_data, grain, by, start, end):
    engine, loaded = project
    names = queryable(loaded, by)
    if grain == "all":
        names = [n for n in names if without_periods(loaded, n)]
    if grain == "week":  # a week is not within one year: to_date(x, year) refuses it (and says so)
        names.remove("tickets_ytd")
    assert len(names) >= 10
    expected_columns, expected_rows = evaluate(definitions, reference_data, names, grain=grain, by=by,
                                               start=start, end=end)
    assert expected_rows, "the reference found rows"
    result = loaded.query(names, grain=grain, by=by, start=start, end=end)
    assert result.columns == expected_columns, engine
    assert len(result.rows) == len(expected_rows), engine
    mismatches = [f"row {got[:len(by) + 1]} {column}: got {value!r}, expected {want!r}"
                  for got, row in zip(result.rows, approx(expected_rows))
                  for column, value, want in zip(result.columns, got, row) if value != want]
    assert not mismatches, f"{engine}: {len(mismatches)} values differ:\n" + "\n".join(mismatches[:12])
