"""Sources (kpi_engine/sources/registry.py): a project's connectors, connections and relations, and the one
answer to "which source does this read?".

The project has two sources:

    default (DuckDB file)                 legacy (SQLite file)
    tickets: created_at   channel         calls: started_at   seconds
             2025-01-10   email                  2025-02-03   100
             2025-01-20   chat                   2025-03-09    50
             2025-02-05   email

and KPIs tickets_n = count() of tickets, calls_n = count() of calls, calls_x2 = calls_n * 2 (reads
calls through a reference), goal = 100 (reads no dataset).
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

import kpi_engine
from support.engines import write_tables
from kpi_engine.compiler.dialects import dialect_for
from kpi_engine.definitions.catalog import Catalog
from kpi_engine.sources.base import Connection, Connector, ConnectorOptions
from kpi_engine.sources.live_checks import live_errors
from kpi_engine.sources.registry import Sources

T = dt.datetime

DEFINITIONS = """\
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions: {channel: channel}
  calls:
    source: legacy
    table: calls
    time: started_at
kpis:
  tickets_n: {dataset: tickets, formula: count()}
  calls_n: {dataset: calls, formula: count()}
  calls_x2: {formula: calls_n * 2}
  goal: {formula: 100}
"""


@pytest.fixture
def root(tmp_path):
    write_tables("duckdb", tmp_path / "tickets.duckdb", {"tickets": (["created_at", "channel"], [
        (T(2025, 1, 10), "email"), (T(2025, 1, 20), "chat"), (T(2025, 2, 5), "email")])})
    write_tables("sqlite", tmp_path / "calls.sqlite", {"calls": (["started_at", "seconds"], [
        (T(2025, 2, 3), 100), (T(2025, 3, 9), 50)])})
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "main.yml").write_text(DEFINITIONS)
    (tmp_path / "kpi.yml").write_text("sources:\n  default: {connector: duckdb, database: tickets.duckdb}\n"
                                      "  legacy: {connector: sqlite, database: calls.sqlite}\n")
    return tmp_path


@pytest.fixture
def project(root):
    with kpi_engine.load(root) as loaded:
        yield loaded


# ================================================================ which source a query reads
def test_the_source_of_a_dataset_and_of_kpis(project):
    sources, binder = project.sources, project.binder
    assert (sources.source_of("tickets"), sources.source_of("calls")) == ("default", "legacy")
    assert sources.source_of_kpis(binder, ["calls_x2"]) == "legacy"  # through the reference to calls_n
    assert sources.source_of_kpis(binder, ["goal", "calls_n", "tickets_n"]) == "legacy"  # the constant runs anywhere
    assert sources.source_of_kpis(binder, ["goal"]) == "default"
    assert sources.source_of_kpis(binder, ["no_such_kpi", "tickets_n"]) == "default"


def test_kpis_grouped_by_source_constants_joining_the_first_group(project):
    sources, binder = project.sources, project.binder
    assert sources.by_source(binder, ["goal", "calls_n", "tickets_n", "calls_x2"]) == {
        "legacy": ["calls_n", "calls_x2", "goal"], "default": ["tickets_n"]}
    assert sources.by_source(binder, ["goal"]) == {"default": ["goal"]}
    assert sources.by_source(binder, ["tickets_n", "goal"]) == {"default": ["tickets_n", "goal"]}


def test_project_source_of_is_the_same_answer(project):
    assert [project.source_of(k) for k in ("tickets_n", "calls_n", "calls_x2", "goal")] == [
        "default", "legacy", "legacy", "default"]
    with pytest.raises(kpi_engine.QueryError) as info:
        project.source_of("calls_m")
    assert (info.value.code, info.value.message) == ("unknown-kpi", "unknown KPI 'calls_m'; did you mean 'calls_n'?")


def test_a_constant_with_kpis_of_another_source_is_one_query_on_that_source(project):
    # calls: one in February, one in March; goal is 100 in every period
    result = project.query(["goal", "calls_n"])
    assert result.rows == [("2025-02-01", 100, 1), ("2025-03-01", 100, 1)]
    assert "\n;\n" not in result.sql
    # compiled for SQLite, the source it runs on
    assert project.compile(["goal", "calls_n"]) == project.compile(["goal", "calls_n"], dialect="sqlite")
    assert project.compile(["goal", "calls_n"]) != project.compile(["goal", "calls_n"], dialect="duckdb")


def test_kpis_of_two_sources_and_a_constant_merge(project):
    # tickets: 2 in January, 1 in February; calls: 1 in February, 1 in March
    result = project.query(["tickets_n", "calls_n", "goal"])
    assert result.columns == ["period", "tickets_n", "calls_n", "goal"]
    assert result.rows == [("2025-01-01", 2, 0, 100), ("2025-02-01", 1, 1, 100), ("2025-03-01", 0, 1, 100)]
    assert result.sql.count("\n;\n") == 1


def test_the_compiler_is_told_the_source_of_each_dataset(project, root):
    (root / "definitions" / "mixed.yml").write_text("kpis:\n  per_call: {formula: tickets_n / calls_n}\n")
    with kpi_engine.load(root) as mixed, pytest.raises(kpi_engine.QueryError) as info:
        mixed.compile(["per_call"])
    assert info.value.code == "several-sources"
    assert "(default, legacy)" in info.value.message


# ====================================================================== connectors, dialects
def test_connectors_and_dialects_by_source(project):
    assert project.connectors is project.sources.connectors
    assert {name: c.name for name, c in project.connectors.items()} == {"default": "duckdb", "legacy": "sqlite"}
    assert (project.sources.dialect("default").name, project.sources.dialect("legacy").name) == ("duckdb", "sqlite")


@pytest.mark.parametrize("call", [
    lambda s: s.connection("legcy"), lambda s: s.dialect("legcy"), lambda s: s.connector("legcy")])
def test_an_unknown_source_is_a_query_error_with_a_suggestion(project, call):
    with pytest.raises(kpi_engine.QueryError) as info:
        call(project.sources)
    assert (info.value.code, info.value.message) == ("unknown-source", "unknown source 'legcy'; did you mean 'legacy'?")


def test_without_a_default_source_one_is_added(write_project):
    root = write_project({"kpi.yml": "name: x\n"})
    with kpi_engine.load(root) as project:
        assert list(project.connectors) == ["default"]
        assert (project.connectors["default"].name, project.connectors["default"].options.database) == (
            "duckdb", ":memory:")
    write_tables("duckdb", root / "kpi.duckdb", {"t": (["a"], [(1,)])})
    with kpi_engine.load(root) as project:
        assert project.connectors["default"].options.database == "kpi.duckdb"


def test_source_errors_are_reported_once_at_their_place(write_project):
    root = write_project({
        "kpi.yml": "sources:\n  legacy:\n    connector: sqlit\n",
        "definitions/d.yml": "datasets:\n  a: {source: legacy, table: t, time: ts}\n"
                             "  b: {source: legasy, table: t, time: ts}\n"})
    with pytest.raises(kpi_engine.KpiError) as info:
        kpi_engine.load(root)
    found = [(e.code, Path(e.file).resolve().relative_to(root.resolve()).as_posix(), e.line, e.column, e.message)
             for e in info.value.errors]
    # the connector; not dataset a, which names the source whose connector failed; b's misspelt source,
    # with kpi.yml's name for it (though its connector failed)
    assert found == [
        ("connector", "kpi.yml", 3, 16, "unknown connector 'sqlit'; did you mean 'sqlite'?"),
        ("unknown-source", "definitions/d.yml", 3, 15, "unknown source 'legasy'; did you mean 'legacy'?"),
    ]


# ============================================================================ relations
def test_a_relation_is_built_once_per_dataset_and_dialect(project):
    entry = project.catalog.datasets["tickets"]
    duckdb, postgres = dialect_for("duckdb"), dialect_for("postgres")
    first = project.sources.relation(entry, duckdb)
    assert project.sources.relation(entry, duckdb) is first
    assert project.sources.relation(entry, postgres) is not first
    assert first.sql() == "tickets"


def test_a_replaced_definition_gets_a_new_relation(project):
    entry = project.catalog.datasets["tickets"]
    first = project.sources.relation(entry, dialect_for("duckdb"))
    entry.model = entry.model.model_copy(update={"table": "main.tickets"})
    assert project.sources.relation(entry, dialect_for("duckdb")).sql() == "main.tickets"
    assert first.sql() == "tickets"


# ========================================================================== connections
class _Recording(Connector):
    """A connector whose connections only record that they were closed."""

    name = "recording"
    dialect = "duckdb"

    def connect(self) -> Connection:
        return _RecordingConnection(self)


class _RecordingConnection(Connection):
    closed = False

    def close(self) -> None:
        self.closed = True


def _sources() -> Sources:
    connectors = {name: _Recording(ConnectorOptions(), source=name) for name in ("default", "other")}
    return Sources(connectors, Catalog())


def test_one_connection_per_source_and_thread():
    sources = _sources()
    mine = sources.connection()
    assert sources.connection("default") is mine and sources.connection("other") is not mine
    barrier = threading.Barrier(6)
    seen: list[tuple[Connection, Connection]] = []

    def work() -> None:
        barrier.wait()  # all at once
        seen.append((sources.connection(), sources.connection()))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a is b for a, b in seen)  # each thread keeps its own
    assert len({id(a) for a, _ in seen} | {id(mine)}) == 7


def test_close_closes_every_thread_and_the_sources_stay_usable():
    sources = _sources()
    opened = [sources.connection(), sources.connection("other")]
    thread = threading.Thread(target=lambda: opened.append(sources.connection()))
    thread.start()
    thread.join()
    sources.close()
    assert [c.closed for c in opened] == [True, True, True]
    again = sources.connection()
    assert again not in opened and not again.closed


def test_the_project_delegates_its_connections(project):
    assert project.connection() is project.sources.connection("default")
    assert project.connection("legacy").execute("SELECT count(*) FROM calls")[1] == [(2,)]
    old = project.connection("legacy")
    project.close()
    assert project.connection("legacy") is not old


# =========================================================================== live checks
def test_live_checks_read_the_sources_only(project, root):
    (root / "definitions" / "main.yml").write_text(DEFINITIONS.replace("formula: count()}\n  calls_x2",
                                                                       "formula: sum(secnds)}\n  calls_x2"))
    with kpi_engine.load(root) as broken:
        errors = live_errors(broken.sources, broken.binder, ["calls", "tickets"])
    assert [(e.code, e.line, e.column, e.message) for e in errors] == [
        ("unknown-column", 12, 42, "unknown column 'secnds' in dataset 'calls'; did you mean 'seconds'?")]
