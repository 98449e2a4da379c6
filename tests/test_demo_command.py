"""`kpi demo`: a ready project in an empty folder, and never anyone else's data."""

from __future__ import annotations

import duckdb
from click.testing import CliRunner

from kpi_engine.cli import main


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
