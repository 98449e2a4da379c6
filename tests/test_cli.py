"""The kpi command: outputs, JSON shapes and exit codes (SPEC §6.1)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from support.engines import write_tables
from kpi_engine.cli import main

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
kpis:
  volume:
    title: Ticket volume
    dataset: tickets
    formula: count()
    format: integer
    direction: none
  solved_share:
    dataset: tickets
    formula: "count(where status = 'solved') / count()"
    format: percent
    target: 0.6
    warning: 0.4
  helper:
    dataset: tickets
    formula: count()
    hidden: true
"""

# January: 2 email (1 solved), 1 chat (solved); February: none; March: 1 email (open)
ROWS = [
    (1, dt.datetime(2025, 1, 2, 10), "email", "solved"),
    (2, dt.datetime(2025, 1, 20, 9), "email", "open"),
    (3, dt.datetime(2025, 1, 31, 23), "chat", "solved"),
    (4, dt.datetime(2025, 3, 5, 8), "email", "open"),
]


@pytest.fixture
def project_dir(write_project):
    root = write_project({
        "kpi.yml": "name: cli\nsources:\n  default:\n    connector: duckdb\n    database: data.duckdb\n",
        "definitions/support.yml": DEFINITIONS,
    })
    write_tables("duckdb", root / "data.duckdb", {"tickets": (["id", "created_at", "channel", "status"], ROWS)})
    return root


def kpi(project_dir, *args):
    return CliRunner().invoke(main, ["--project", str(project_dir), *args])


def test_help_and_version():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("list", "validate", "compile", "run", "demo", "schema"):
        assert command in result.output
    assert CliRunner().invoke(main, ["--version"]).output.startswith("kpi, version ")


def test_list_table_and_json(project_dir):
    table = kpi(project_dir, "list")
    assert table.exit_code == 0
    assert "Ticket volume" in table.output and "helper" not in table.output
    listed = json.loads(kpi(project_dir, "list", "--all", "--format", "json").output)
    assert [k["name"] for k in listed] == ["volume", "solved_share", "helper"]
    first = listed[1]
    assert first["title"] == "Solved share" and first["target"] == 0.6 and first["format"] == "percent"
    assert first["formula"] == "count(where status = 'solved') / count()"


def test_run_json_shape(project_dir):
    result = kpi(project_dir, "run", "volume", "solved_share", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"period": "2025-01-01", "volume": 3, "solved_share": 2 / 3},
        {"period": "2025-02-01", "volume": 0, "solved_share": None},
        {"period": "2025-03-01", "volume": 1, "solved_share": 0.0},
    ]


def test_run_status_csv_and_table(project_dir):
    result = kpi(project_dir, "run", "volume", "solved_share", "--by", "channel", "--status", "--format", "csv",
                 "--from", "2025-01-01", "--to", "2025-01-31")
    assert result.exit_code == 0, result.output
    # only solved_share has a target: 1/1 for chat is ok (>= 0.6), 1/2 for email is warn (0.4 .. 0.6)
    assert result.stdout.splitlines() == [
        "period,channel,volume,solved_share,solved_share__status",
        "2025-01-01,chat,1,1.0,ok",
        "2025-01-01,email,2,0.5,warn",
    ]
    table = kpi(project_dir, "run", "solved_share", "--from", "2025-01-01", "--to", "2025-01-31")
    assert "66.7%" in table.stdout


def test_run_all_skips_hidden(project_dir):
    result = kpi(project_dir, "run", "--all", "--grain", "all", "--format", "json")
    assert json.loads(result.stdout) == [{"volume": 4, "solved_share": 0.5}]


@pytest.mark.parametrize("args, code, needle", [
    (["run", "volum"], 1, "unknown KPI 'volum'; did you mean 'volume'?"),
    (["run", "volume", "--by", "chanel"], 1, "unknown dimension 'chanel' on dataset 'tickets'; did you mean 'channel'?"),
    (["run", "volume", "--where", "channel = "], 1, "--where:1:"),
    (["run", "volume", "--where", "chanel = 'x'"], 1, "--where:1:1: error[unknown-dimension]"),
    (["run", "volume", "--from", "2025-02-30"], 2, "is not a date"),
    (["run", "volume", "--grain", "fortnight"], 2, "'fortnight' is not one of"),
    (["run"], 2, "name at least one KPI"),
    (["run", "volume", "--all"], 2, "not both"),
    (["run", "volume", "--from", "2025-03-01", "--to", "2025-01-01"], 1, "is after --to"),
    (["run", "volume", "--by", "channel", "--by", "channel"], 2, "a dimension is named twice"),
    (["compile", "volume", "--dialect", "snowflak"], 2, "did you mean 'snowflake'"),
    (["compile", "volume", "--dialect", "mysql"], 2, "dialect 'mysql' has no tested adapter in kpi_engine"),
    (["nosuchcommand"], 2, "No such command"),
    (["run", "volume", "--timezone", "America/Sao_Paul"], 2, "did you mean 'America/Sao_Paulo'?"),
    (["compile", "volume", "--timezone", "Mars/Olympus"], 2, "Invalid value for '--timezone'"),
])
def test_errors_have_one_message_and_the_right_exit_code(project_dir, args, code, needle):
    result = kpi(project_dir, *args)
    assert result.exit_code == code, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_run_all_with_only_hidden_kpis_is_a_usage_error(project_dir):
    only_hidden = "datasets:\n  t:\n    table: tickets\n    time: created_at\n" \
                  "kpis:\n  helper: {dataset: t, formula: count(), hidden: true}\n"
    root = project_dir.parent / "hidden_only"
    (root / "definitions").mkdir(parents=True)
    (root / "definitions" / "a.yml").write_text(only_hidden)
    (root / "kpi.yml").write_text((project_dir / "kpi.yml").read_text().replace("database: ", f"database: {project_dir}/"))
    result = kpi(root, "run", "--all")
    assert result.exit_code == 2 and "no KPI that is not hidden" in result.output
    assert "Traceback" not in result.output


def test_compile_refuses_an_untested_dialect_in_python_too(project_dir):
    import kpi_engine

    with pytest.raises(kpi_engine.QueryError, match="no tested adapter"):
        kpi_engine.load(project_dir).compile(["volume"], dialect="mysql")


def test_definition_error_points_at_file_line_column(project_dir):
    (project_dir / "definitions" / "broken.yml").write_text(
        "kpis:\n  broken:\n    dataset: tickets\n    formula: avg(handle_secs where) \n")
    result = kpi(project_dir, "validate")
    assert result.exit_code == 1
    assert "definitions/broken.yml:4:" in result.stderr
    assert "^" in result.stderr and "Traceback" not in result.stderr


def test_validate_checks_columns_against_the_source(project_dir):
    assert kpi(project_dir, "validate").output.startswith("ok: 3 KPIs and 1 dataset;")
    (project_dir / "definitions" / "more.yml").write_text(
        "kpis:\n  wrong:\n    dataset: tickets\n    formula: count_distinct(chanel)\n")
    result = kpi(project_dir, "validate")
    assert result.exit_code == 1
    # the column is the token at line 4, column 29 of more.yml
    assert "more.yml:4:29: error[unknown-column]: unknown column 'chanel' in dataset 'tickets'; " \
           "did you mean 'channel'?" in result.stderr
    assert kpi(project_dir, "validate", "--no-source").exit_code == 0


def test_run_reports_an_unknown_column_at_its_token(project_dir):
    (project_dir / "definitions" / "more.yml").write_text(
        "kpis:\n  wrong:\n    dataset: tickets\n    formula: count(where statuss = 'x')\n")
    result = kpi(project_dir, "run", "wrong")
    assert result.exit_code == 1
    # "    formula: count(where " is 25 characters: the column starts at 26
    assert "more.yml:4:26: error[unknown-column]: unknown column 'statuss'" in result.stderr


def test_a_dead_source_is_exit_code_3(project_dir):
    (project_dir / "data.duckdb").unlink()
    result = kpi(project_dir, "run", "volume")
    assert result.exit_code == 3
    assert "source 'default'" in result.stderr and "does not exist" in result.stderr
    (project_dir / "data.duckdb").write_text("this is not a database")
    result = kpi(project_dir, "run", "volume")
    assert result.exit_code == 3 and "Traceback" not in result.output


def test_a_missing_table_is_exit_code_3(project_dir):
    (project_dir / "definitions" / "more.yml").write_text(
        "datasets:\n  ghosts:\n    table: no_such_table\n    time: t\nkpis:\n  boo:\n    dataset: ghosts\n"
        "    formula: count()\n")
    result = kpi(project_dir, "run", "boo")
    assert result.exit_code == 3
    assert "no_such_table" in result.stderr


def test_running_kpis_never_changes_the_database(project_dir):
    before = hashlib.sha256((project_dir / "data.duckdb").read_bytes()).hexdigest()
    for args in (["run", "--all"], ["validate"], ["run", "volume", "--by", "channel", "--format", "json"]):
        assert kpi(project_dir, *args).exit_code == 0
    assert hashlib.sha256((project_dir / "data.duckdb").read_bytes()).hexdigest() == before


def test_a_dataset_sql_that_writes_is_refused(project_dir):
    (project_dir / "definitions" / "more.yml").write_text(
        "datasets:\n  evil:\n    sql: DELETE FROM tickets\n    time: created_at\n")
    result = kpi(project_dir, "validate", "--no-source")
    assert result.exit_code == 1
    assert "more.yml:3:10" in result.stderr and "SELECT" in result.stderr


def test_compile_for_another_dialect(project_dir):
    result = kpi(project_dir, "compile", "solved_share", "--dialect", "snowflake", "--from", "2025-01-01",
                 "--to", "2025-03-31")
    assert result.exit_code == 0
    assert "COUNT_IF" in result.stdout or "CASE" in result.stdout  # Snowflake has no FILTER clause
    assert "FILTER" not in result.stdout


def test_project_is_found_from_a_subfolder(project_dir, monkeypatch):
    sub = project_dir / "definitions"
    monkeypatch.chdir(sub)
    result = CliRunner().invoke(main, ["run", "volume", "--grain", "all", "--format", "json"])
    assert json.loads(result.stdout) == [{"volume": 4}]


def test_schema_is_json_schema():
    schema = json.loads(CliRunner().invoke(main, ["schema"]).output)
    assert schema["$schema"].startswith("https://json-schema.org/")
    kpi_schema = schema["$defs"]["Kpi"]
    assert {"formula", "format", "target", "direction"} <= set(kpi_schema["properties"])
    assert kpi_schema["additionalProperties"] is False


def test_the_installed_command_never_prints_a_traceback(project_dir):
    broken = subprocess.run([sys.executable, "-m", "kpi_engine", "--project", str(project_dir), "run", "x"],
                            capture_output=True, text=True)
    assert broken.returncode == 1
    assert "unknown KPI 'x'" in broken.stderr and "Traceback" not in broken.stderr


def test_timezone_cuts_the_periods_in_that_zone(project_dir):
    """Ticket 3 was created 2025-01-31 23:00 UTC: 08:00 on 1 February in Tokyo (UTC+9), so with
    --timezone Asia/Tokyo January has 2 tickets and February 1, against 3 and none in UTC."""
    utc = kpi(project_dir, "run", "volume", "--format", "json")
    tokyo = kpi(project_dir, "run", "volume", "--format", "json", "--timezone", "Asia/Tokyo")
    assert utc.exit_code == tokyo.exit_code == 0, utc.output + tokyo.output
    assert [(r["period"], r["volume"]) for r in json.loads(utc.output)] == [
        ("2025-01-01", 3), ("2025-02-01", 0), ("2025-03-01", 1)]
    assert [(r["period"], r["volume"]) for r in json.loads(tokyo.output)] == [
        ("2025-01-01", 2), ("2025-02-01", 1), ("2025-03-01", 1)]
    compiled = kpi(project_dir, "compile", "volume", "--timezone", "Asia/Tokyo")
    assert compiled.exit_code == 0 and "Asia/Tokyo" in compiled.output
