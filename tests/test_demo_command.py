"""`kpi demo`: a ready project in an empty folder, and never anyone else's data."""

from __future__ import annotations

import datetime as dt

import duckdb
from click.testing import CliRunner

from kpi_engine.cli import main
from kpi_engine.report.shares import is_share
from kpi_engine.report.text import latest_values


def test_demo_in_an_empty_folder_writes_a_project_and_runs_the_library(tmp_path):
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "demo", "--rows", "3000"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "kpi.yml").is_file() and (tmp_path / "definitions" / "support.yml").is_file()
    assert (tmp_path / "data" / "helpdesk.duckdb").is_file()
    assert "3,000 tickets" in result.output
    for title in ("First contact resolution (FCR)", "Customer satisfaction (CSAT)", "Churn rate"):
        assert title in result.output
    assert "2025-12" in result.output  # the latest month of the data
    # the project it wrote is a project: it validates against its own data
    assert CliRunner().invoke(main, ["--project", str(tmp_path), "validate"]).exit_code == 0


def test_demo_keeps_the_files_it_finds(tmp_path):
    (tmp_path / "kpi.yml").write_text("name: mine\nsources:\n  default:\n    connector: duckdb\n"
                                      "    database: data/helpdesk.duckdb\n")
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "mine.yml").write_text("kpis:\n  one: {formula: '1'}\n")
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "demo", "--rows", "2000"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "kpi.yml").read_text().startswith("name: mine")
    assert sorted(p.name for p in (tmp_path / "definitions").iterdir()) == ["mine.yml"]


def test_demo_refuses_a_database_it_did_not_write(tmp_path):
    (tmp_path / "kpi.yml").write_text("sources:\n  default:\n    connector: duckdb\n    database: data/mine.duckdb\n")
    (tmp_path / "data").mkdir()
    with duckdb.connect(str(tmp_path / "data" / "mine.duckdb")) as con:
        con.execute("CREATE TABLE tickets AS SELECT 42 AS precious")
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "demo", "--rows", "2000"])
    assert result.exit_code == 3
    assert "was not written by kpi demo; refusing to overwrite it" in result.output
    with duckdb.connect(str(tmp_path / "data" / "mine.duckdb"), read_only=True) as con:
        assert con.execute("SELECT precious FROM tickets").fetchall() == [(42,)]


def test_demo_rows_must_be_positive(tmp_path):
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "demo", "--rows", "0"])
    assert result.exit_code == 2


# The summary, on a small project whose numbers are worked out by hand.
T = dt.datetime
SUMMARY_TICKETS = (
    ["ticket_id", "created_at", "channel", "region", "solved", "score"],
    [
        # November: 4 tickets, 3 solved; scores average 100
        (1, T(2025, 11, 3, 9), "chat", "north", True, 100.0),
        (2, T(2025, 11, 12, 10), "chat", "south", True, 100.0),
        (3, T(2025, 11, 20, 11), "email", "north", True, 100.0),
        (4, T(2025, 11, 30, 23, 59), "email", "south", False, 100.0),
        # December: 5 tickets, 3 solved; scores average 499.95 / 5 = 99.99
        (5, T(2025, 12, 1, 0, 0), "chat", "north", True, 100.0),
        (6, T(2025, 12, 5, 8), "chat", "north", True, 100.0),
        (7, T(2025, 12, 9, 14), "email", "south", True, 100.0),
        (8, T(2025, 12, 18, 16), "email", "south", False, 100.0),
        (9, T(2025, 12, 31, 23), "web", "north", False, 99.95),
    ],
)
SUMMARY_DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      region: region
      channel: channel
kpis:
  volume:
    dataset: tickets
    formula: count()
    format: integer
    direction: lower
    target: 6
  solved_rate:
    dataset: tickets
    formula: count(where solved) / count()
    format: percent
    target: 0.7
    warning: 0.5
  solved:
    dataset: tickets
    formula: count(where solved)
    format: integer
    target: 4
  score:
    dataset: tickets
    formula: avg(score)
    decimals: 2
  channel_share:
    title: Share by channel
    dataset: tickets
    formula: count() / total(count())
    format: percent
  doubled_share:
    formula: channel_share * 2
    format: percent
  hidden_share:
    dataset: tickets
    formula: count() / total(count())
    hidden: true
"""


def summary_cells(text: str) -> dict[str, list[str]]:
    """The summary table as {KPI title: [value, change, target, status]}, cut at the dashes' columns."""
    lines = text.splitlines()
    dashes = next(i for i, line in enumerate(lines) if line.startswith("---"))
    spans, position = [], 0
    for run in lines[dashes].split("  "):
        spans.append((position, position + len(run)))
        position += len(run) + 2
    spans[-1] = (spans[-1][0], None)  # the status column is not padded
    table = {}
    for line in lines[dashes + 1:]:
        if not line.strip():
            break
        cells = [line[start:end].strip() for start, end in spans]
        table[cells[0]] = cells[1:]
    return table


def test_summary_values_changes_and_statuses(make_project):
    project = make_project(SUMMARY_DEFINITIONS, {"tickets": SUMMARY_TICKETS})
    text = latest_values(project, dt.date(2025, 12, 31), months=2)
    assert text.splitlines()[0] == "test: 6 KPIs, month by month from 2025-11 to 2025-12; latest month shown"
    assert text.splitlines()[2].split() == ["KPI", "2025-12", "vs", "previous", "target", "status"]
    assert summary_cells(text) == {
        # 5 tickets against 4: +25.0%; direction lower, 5 <= 6: ok
        "Volume": ["5", "+25.0%", "6", "ok"],
        # 3/5 = 60.0% against 3/4 = 75.0%: -15.0 percentage points, not the relative -20.0%;
        # 0.5 <= 0.6 < 0.7: warn
        "Solved rate": ["60.0%", "-15.0 pp", "70.0%", "warn"],
        # 3 against 3: +0.0%; 3 < 4 without warning: bad
        "Solved": ["3", "+0.0%", "4", "bad"],
        # 99.99 against 100: -0.01% rounds to nothing, shown +0.0% (never -0.0%); no target, no status
        "Score": ["99.99", "+0.0%", "", ""],
        # always 100% without --by: no value, no change, no status; a footnote instead
        "Share by channel *": ["", "", "", ""],
        "Doubled share *": ["", "", "", ""],
    }
    assert text.splitlines()[-3:] == [
        "",
        "* by dimension only: kpi run channel_share --by channel",  # the dimension its name says
        "* by dimension only: kpi run doubled_share --by region",  # else the dataset's first one
    ]


def test_share_kpis_are_those_that_read_a_total(make_project):
    project = make_project(SUMMARY_DEFINITIONS, {"tickets": SUMMARY_TICKETS})
    shares = [name for name in project.kpis if is_share(project, name)]
    assert shares == ["channel_share", "doubled_share", "hidden_share"]


def test_demo_summary_spells_statuses_as_kpi_run_and_shows_no_share_value(tmp_path):
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "demo", "--rows", "3000"])
    assert result.exit_code == 0, result.output
    cells = summary_cells(result.output.split("\n\n", 1)[1])
    statuses = {row[3] for row in cells.values()}
    assert statuses <= {"ok", "warn", "bad", ""} and statuses & {"warn", "bad"}  # the library misses some targets
    assert cells["Share of tickets by channel *"] == ["", "", "", ""]
    assert result.output.rstrip().endswith("* by dimension only: kpi run channel_share --by channel")
    assert cells["First contact resolution (FCR)"][1].endswith(" pp")
    assert cells["Ticket volume"][1].endswith("%")
