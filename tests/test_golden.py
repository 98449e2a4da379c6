"""Whole compiled queries per dialect, compared with tests/golden/<case>/<dialect>.sql.

A change of generated SQL shows as a unified diff; after checking it, refresh
the files with ``pytest tests/test_golden.py --update-goldens``. The SQL of
DuckDB and SQLite is also executed by the result tests, with hand-worked
numbers; the other dialects are compile-only here.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

import kpi_engine

GOLDEN = Path(__file__).parent / "golden"
DIALECTS = ("duckdb", "sqlite", "postgres", "snowflake", "bigquery", "spark", "trino")
Q1 = {"start": "2025-01-01", "end": "2025-03-31"}

CASES = {
    "ticket_volume": dict(kpis=["ticket_volume"], **Q1),
    "first_contact_resolution": dict(kpis=["first_contact_resolution"], by=["channel"], **Q1),
    "active_customers": dict(kpis=["active_customers", "churn_rate"], by=["plan"], **Q1),
    "channel_share": dict(kpis=["channel_share"], by=["channel"], where="priority != 'low'", **Q1),
    "monthly_sales_growth": dict(kpis=["monthly_sales_growth"], **Q1),
    "cac": dict(kpis=["cac"], by=["acquisition_channel"], **Q1),
    "aht_rolling_3m": dict(kpis=["aht_rolling_3m"], grain="week", **Q1),
    "p90_first_response": dict(kpis=["p90_first_response"], grain="quarter"),
    "customers_with_tickets_to_date": dict(kpis=["customers_with_tickets_to_date"], **Q1),
    "revenue_ytd": dict(kpis=["revenue_ytd"], grain="day", start="2025-03-01", end="2025-03-31"),
    "support_summary": dict(kpis=["ticket_volume", "backlog_change", "first_response_time", "complaint_rate"],
                            grain="all", **Q1),
}


@pytest.fixture(scope="module")
def project():
    return kpi_engine.load(GOLDEN / "project")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_sql(project, case, dialect, request):
    options = dict(CASES[case])
    sql = project.compile(options.pop("kpis"), dialect=dialect, **options) + "\n"
    path = GOLDEN / case / f"{dialect}.sql"
    if request.config.getoption("--update-goldens"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
        return
    assert path.exists(), f"no golden file {path}; run pytest --update-goldens"
    expected = path.read_text()
    if sql != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), sql.splitlines(True),
                                            f"golden/{case}/{dialect}.sql", "compiled"))
        pytest.fail(f"compiled SQL differs from the golden file:\n{diff}", pytrace=False)


def test_every_golden_file_is_a_case():
    on_disk = {p.parent.name for p in GOLDEN.glob("*/*.sql")}
    assert on_disk <= set(CASES), f"stale golden folders: {on_disk - set(CASES)}"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_goldens_parse_back_in_their_dialect(dialect):
    """A syntax slip in a compile-only dialect shows here, even without the engine."""
    import sqlglot

    for path in sorted(GOLDEN.glob(f"*/{dialect}.sql")):
        assert sqlglot.parse_one(path.read_text(), read=dialect) is not None, path
