"""The compile cache of ``kpi run``: same output, never stale."""

from __future__ import annotations

import datetime as dt
import json
import os
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
kpis:
  volume: {dataset: tickets, formula: count(), target: 2}
"""
# January 2025: 2 tickets; February: 1
ROWS = [(1, dt.datetime(2025, 1, 2)), (2, dt.datetime(2025, 1, 3)), (3, dt.datetime(2025, 2, 1))]

# runs the kpi executable and reports, at exit, which heavy modules it imported
PROBE = (
    "import atexit, sys; atexit.register(lambda: print(sorted(m for m in ('sqlglot', 'pydantic', 'lark', 'yaml', "
    "'click') if m in sys.modules), file=sys.stderr)); from kpi_engine.cli import entry as launch; "
    "sys.argv = ['kpi'] + sys.argv[1:]; launch.main()"
)


@pytest.fixture
def project(write_project, tmp_path, monkeypatch):
    root = write_project({
        "kpi.yml": "sources:\n  default:\n    connector: duckdb\n    database: ${KPI_TEST_DB:-data.duckdb}\n",
        "definitions/a.yml": DEFINITIONS,
    })
    write_tables("duckdb", root / "data.duckdb", {"tickets": (["id", "created_at"], ROWS)})
    monkeypatch.setenv("KPI_ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KPI_ENGINE_NO_CACHE", raising=False)
    monkeypatch.delenv("KPI_TEST_DB", raising=False)
    return root


def kpi(root, *args):
    """Run the kpi executable; return (exit code, stdout, the heavy modules it imported)."""
    done = subprocess.run([sys.executable, "-c", PROBE, "--project", str(root), *args], capture_output=True,
                          text=True, env=os.environ.copy())
    *messages, modules = done.stderr.strip().splitlines()
    if done.returncode:
        return done.returncode, done.stdout, "\n".join(messages)
    return done.returncode, done.stdout, json.loads(modules.replace("'", '"'))


def test_second_run_skips_the_compiler_and_prints_the_same(project):
    code, first, modules = kpi(project, "run", "volume", "--status", "--format", "csv")
    assert code == 0 and "click" in modules and "sqlglot" in modules
    assert first.splitlines() == ["period,volume,volume__status", "2025-01-01,2,ok", "2025-02-01,1,bad"]
    code, second, modules = kpi(project, "run", "volume", "--status", "--format", "csv")
    assert (code, second, modules) == (0, first, [])


def test_help_imports_no_heavy_module(project):
    code, out, modules = kpi(project, "--help")
    assert (code, modules) == (0, ["click"]) and "Compute KPIs." in out


def test_the_commands_cache_only_the_command_line_the_executable_hands_them(project, tmp_path):
    """The executable passes its command line in click's ``obj``; driven without it, nothing is stored."""
    args = ["--project", str(project), "run", "volume", "--format", "csv"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert not (tmp_path / "cache").exists()
    assert CliRunner().invoke(main, args, obj={"argv": args}).exit_code == 0
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1
    code, out, modules = kpi(project, "run", "volume", "--format", "csv")  # the same command line: served
    assert (code, out.splitlines(), modules) == (0, ["period,volume", "2025-01-01,2", "2025-02-01,1"], [])


def test_an_edited_definition_is_never_served_stale(project):
    kpi(project, "run", "volume", "--format", "json")
    (project / "definitions" / "a.yml").write_text(DEFINITIONS.replace("count()", "count() * 10"))
    code, out, modules = kpi(project, "run", "volume", "--format", "json")
    assert json.loads(out) == [{"period": "2025-01-01", "volume": 20}, {"period": "2025-02-01", "volume": 10}]
    assert "sqlglot" in modules


def test_a_new_file_or_a_changed_variable_is_noticed(project, monkeypatch):
    kpi(project, "run", "volume", "--format", "json")
    (project / "definitions" / "b.yml").write_text("kpis:\n  broken: {formula: nope}\n")
    code, _, stderr = kpi(project, "run", "volume", "--format", "json")
    assert code == 1 and "unknown KPI 'nope'" in stderr
    (project / "definitions" / "b.yml").unlink()
    kpi(project, "run", "volume", "--format", "json")
    monkeypatch.setenv("KPI_TEST_DB", "missing.duckdb")
    code, _, stderr = kpi(project, "run", "volume", "--format", "json")
    assert code == 3 and "missing.duckdb does not exist" in stderr


def test_errors_still_come_from_the_full_path(project):
    kpi(project, "run", "volume")
    (project / "data.duckdb").unlink()
    code, _, stderr = kpi(project, "run", "volume")
    assert code == 3 and "does not exist" in stderr and "Traceback" not in stderr


def test_the_cache_can_be_turned_off(project, monkeypatch):
    monkeypatch.setenv("KPI_ENGINE_NO_CACHE", "1")
    kpi(project, "run", "volume")
    code, _, modules = kpi(project, "run", "volume")
    assert code == 0 and "sqlglot" in modules


def test_a_run_over_two_sources_is_never_cached(project):
    (project / "kpi.yml").write_text(
        "sources:\n  default:\n    connector: duckdb\n    database: data.duckdb\n"
        "  copy:\n    connector: duckdb\n    database: data.duckdb\n")
    (project / "definitions" / "b.yml").write_text(
        "datasets:\n  copied:\n    source: copy\n    table: tickets\n    time: created_at\n"
        "kpis:\n  copied_volume: {dataset: copied, formula: count() * 100}\n")
    expected = [{"period": "2025-01-01", "volume": 2, "copied_volume": 200},
                {"period": "2025-02-01", "volume": 1, "copied_volume": 100}]
    for _ in range(3):  # one query per source, merged: each run compiles again
        code, out, modules = kpi(project, "run", "volume", "copied_volume", "--format", "json")
        assert (code, json.loads(out)) == (0, expected)
        assert "sqlglot" in modules


def test_an_edit_with_the_same_size_and_time_is_noticed(project, tmp_path):
    """Contents decide, not size and mtime: `cp -p` of an edited copy keeps both."""
    kpi(project, "run", "volume", "--format", "json")
    definition = project / "definitions" / "a.yml"
    text = definition.read_text().replace("tickets, formula: count(), target", "tickets,formula: count()*3,target")
    assert len(text) == len(definition.read_text())
    edited = tmp_path / "a.yml"
    edited.write_text(text)
    stat = definition.stat()
    os.replace(edited, definition)
    os.utime(definition, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # what cp -p does
    assert (definition.stat().st_size, definition.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    code, out, modules = kpi(project, "run", "volume", "--format", "json")
    assert json.loads(out) == [{"period": "2025-01-01", "volume": 6}, {"period": "2025-02-01", "volume": 3}]
    assert "sqlglot" in modules


SQLITE_DEFINITIONS = """
datasets:
  places:
    table: places
    dimensions:
      open: is_open
kpis:
  elan: {dataset: places, formula: "count(where upper(name) = 'ÉLAN')"}
"""


def test_a_cached_run_on_sqlite_answers_as_an_uncached_one(write_project, tmp_path, monkeypatch):
    """SQLite's own upper() leaves 'é' alone; the connector's Unicode one is used by both paths,
    and booleans come back as true/false from both."""
    root = write_project({"kpi.yml": "sources:\n  default: {connector: sqlite, database: p.sqlite}\n",
                          "definitions/a.yml": SQLITE_DEFINITIONS})
    write_tables("sqlite", root / "p.sqlite", {"places": (["name", "is_open"], [("élan", True), ("elan", False)])})
    monkeypatch.setenv("KPI_ENGINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("KPI_ENGINE_NO_CACHE", raising=False)
    expected = [{"open": False, "elan": 0}, {"open": True, "elan": 1}]  # only 'élan' upper-cases to 'ÉLAN'
    code, out, modules = kpi(root, "run", "elan", "--grain", "all", "--by", "open", "--format", "json")
    assert (code, json.loads(out)) == (0, expected) and "sqlglot" in modules
    code, out, modules = kpi(root, "run", "elan", "--grain", "all", "--by", "open", "--format", "json")
    assert (code, json.loads(out), modules) == (0, expected, [])
