"""Input of any size gets a correct answer or one clear error, never a traceback.

The tickets: three rows, in January and February 2025, channels email, chat, email.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

import kpi_engine
from kpi_engine import EngineBugError, FormulaError, QueryError

T = dt.datetime
TICKETS = (["id", "created_at", "channel", "contacts"],
           [(1, T(2025, 1, 5), "email", 1), (2, T(2025, 1, 20), "chat", 2), (3, T(2025, 2, 3), "email", 3)])


def definitions(formula: str) -> str:
    return f"""
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
kpis:
  n: {{dataset: tickets, formula: count()}}
  deep:
    dataset: tickets
    formula: |
      {formula}
"""


@pytest.fixture
def project_with(make_project):
    def make(formula: str) -> kpi_engine.Project:
        return make_project(definitions(formula), {"tickets": TICKETS})

    return make


@pytest.mark.parametrize("formula, expected", [
    ("(" * 1000 + "count()" + ")" * 1000, 3),  # parentheses add no depth
    (" + ".join(["count()"] * 2000), 6000),  # a long flat sum works
    (" - ".join(["count()"] * 2001), 3 - 2000 * 3),  # as does a long difference, in order
    (" * ".join(["count()"] * 38), 3 ** 38),  # a long product: 38 factors of 3, exact in 64 bits
    ("count(where " + " and ".join(["contacts > 0"] * 1000) + ")", 3),
    ("count(where " + " or ".join(["contacts = 9"] * 999 + ["contacts = 2"]) + ")", 1),
    ("-" * 2000 + "count()", 3),  # an even number of minuses
    ("-" * 2001 + "count()", -3),
    ("count(where " + "not " * 2000 + "contacts = 2)", 1),
    (" + ".join(f"count(where contacts > {i % 5})" for i in range(500)), 100 * (3 + 2 + 1)),
])
def test_long_formulas_work(project_with, formula, expected):
    result = project_with(formula).query(["deep"], grain="all")
    assert result.rows == [(pytest.approx(expected, rel=1e-12),)]


def test_deep_nesting_is_refused_at_its_position(project_with):
    formula = "count()"
    for i in range(100):
        formula = f"({formula} {'+-*/'[i % 4]} {i + 1})"
    with pytest.raises(FormulaError) as caught:
        project_with(formula)
    error = caught.value
    assert error.code == "too-deep"
    assert "nests more than 64 levels deep" in error.message
    # the 65th level from the outside: its opening parenthesis, on the formula's line (13), 64 columns
    # after the first parenthesis (column 7)
    assert (error.line, error.column) == (13, 7 + 64)


def test_nested_rounds_that_would_write_a_huge_query_are_refused(project_with):
    with pytest.raises(FormulaError) as caught:
        project_with("round(round(round(count() / 7, 3), 2), 1)")
    assert caught.value.code == "too-large" and "round()" in caught.value.hint
    assert project_with("round(round(count() / 7, 3), 2)").query(["deep"], grain="all").rows == [(0.43,)]


def test_where_nested_deep(project_with):
    project = project_with("count()")
    where = "(" * 2000 + "channel = 'email'" + ")" * 2000
    assert project.query(["n"], grain="all", where=where).rows == [(2,)]
    assert project.query(["n"], grain="all", where="not " * 2000 + "channel = 'email'").rows == [(2,)]
    deep = "channel"
    for _ in range(80):
        deep = f"lower({deep})"
    with pytest.raises(QueryError) as caught:
        project.query(["n"], grain="all", where=f"{deep} = 'email'")
    assert caught.value.code == "too-deep" and caught.value.file == "--where"


@pytest.mark.parametrize("formula, start, end, expected", [
    ("count()", "9999-12-01", "9999-12-31", [("9999-12-01", 0)]),
    ("previous(count())", "0001-01-01", "0001-02-28", [("0001-01-01", 0), ("0001-02-01", 0)]),
    # 100,000 months before 2025: nothing; the months themselves are fine
    ("previous(count(), 100000)", "2025-01-01", "2025-02-28", [("2025-01-01", 0), ("2025-02-01", 0)]),
    ("rolling(count(), 100000)", "2025-01-01", "2025-02-28", [("2025-01-01", 2), ("2025-02-01", 3)]),
    ("to_date(previous(count(), 12), year)", "2026-01-01", "2026-02-28", [("2026-01-01", 2), ("2026-02-01", 3)]),
])
def test_dates_at_the_edges_of_the_calendar(project_with, formula, start, end, expected):
    assert project_with(formula).query(["deep"], start=start, end=end).rows == expected


def test_impossible_ranges(project_with):
    project = project_with("count()")
    assert project.query(["deep"], grain="all", start="9999-12-31", end="9999-12-31").rows == [(0,)]
    assert project.query(["deep"], grain="week", start="0001-01-01", end="0001-01-07").rows == [("0001-01-01", 0)]
    with pytest.raises(FormulaError, match="from 1 to 100,000"):
        project_with("previous(count(), 100001)")
    with pytest.raises(QueryError, match="--from '10000-01-01' is not a date"):
        project.query(["deep"], start="10000-01-01")


def test_integers_beyond_64_bits(project_with):
    with pytest.raises(FormulaError) as caught:
        project_with("count() + 99999999999999999999")
    assert "does not fit in 64 bits" in caught.value.message and caught.value.column == 7 + len("count() + ")
    # as a decimal it computes: 99999999999999999999 + 3, a fraction-typed decimal shown as a double
    assert project_with("count() + 99999999999999999999.0").query(["deep"], grain="all").rows == [(1e20,)]
    # a constant folded past 64 bits is written as a decimal, not read as a double or overflowed
    folded = project_with("9223372036854775807 + 1 + 0 * count()").query(["deep"], grain="all").rows[0][0]
    assert folded == 9223372036854775808


def test_an_overflow_is_a_query_error_not_a_source_failure(project_with, tmp_path):
    project = project_with("count() * 9223372036854775807")
    with pytest.raises(QueryError) as caught:
        project.query(["deep"], grain="all")
    assert caught.value.code == "overflow" and "overflow" in caught.value.message.lower()


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_sql_an_engine_cannot_parse_is_an_engine_bug_with_the_statement(make_project, engine):
    project = make_project(definitions("count()"), {"tickets": TICKETS}, engine=engine)
    with pytest.raises(EngineBugError) as caught:
        project.connection().execute("SELEC 1 FROM tickets")
    error = caught.value
    assert error.code == "engine-bug" and f"kpi_engine wrote SQL that {engine} cannot parse" in error.message
    assert "bug in kpi_engine" in error.hint
    assert error.render().endswith("  = statement:\n    SELEC 1 FROM tickets")


def test_the_command_line_never_shows_a_traceback(make_project):
    project = make_project(definitions(" + ".join(["count()"] * 3000)), {"tickets": TICKETS})
    for args, code in ((["run", "deep", "--grain", "all"], 0), (["run", "n", "--from", "9999-12-01"], 0),
                       (["run", "n", "--where", "(" * 3000 + "channel = 'chat'" + ")" * 3000], 0)):
        done = subprocess.run([sys.executable, "-m", "kpi_engine", "--project", str(project.root), *args],
                              capture_output=True, text=True, env={"KPI_ENGINE_NO_CACHE": "1", "PATH": ""})
        assert done.returncode == code, done.stderr
        assert "Traceback" not in done.stderr
