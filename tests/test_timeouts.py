"""Query time limits (``Project.query(..., timeout=)``): the statement is stopped on the engine, not abandoned.

On DuckDB and SQLite a query that would run for hours is cut off at its limit, and the test then
watches the process's CPU time for two seconds: an engine still working on it would use about a
core (two on DuckDB) in that time. The connection that ran it answers the next query. The engine
plugins' suites show the same on PostgreSQL (``pg_stat_activity``) and Spark (its status tracker).

The tickets every normal query reads, and their volume per month worked out by hand:

    1  2025-01-03 09:00    January: tickets 1 and 2 -> 2
    2  2025-01-20 00:00    February: none -> 0
    3  2025-03-01 00:00    March: ticket 3 -> 1

A connector written for these tests (``SLOW_PLUGIN``) stands for the engines that cannot be told
to stop, or do not stop when told.
"""

from __future__ import annotations

import datetime as dt
import textwrap
import threading
import re
import time
from pathlib import Path

import pytest

import kpi_engine
from kpi_engine.sources import timeouts

T = dt.datetime
TICKETS = (["ticket_id", "created_at"], [(1, T(2025, 1, 3, 9)), (2, T(2025, 1, 20)), (3, T(2025, 3, 1))])
VOLUMES = [("2025-01-01", 2), ("2025-02-01", 0), ("2025-03-01", 1)]

#: A dataset of 10^13 rows (DuckDB reads about 10^9 a second: hours), 28 days of January 2025.
DUCKDB_ENDLESS = ("SELECT TIMESTAMP '2025-01-01' + TO_DAYS(CAST(x % 28 AS INTEGER)) AS created_at "
                  "FROM range(10000000000000) AS r(x)")
#: 10^4 days cross-joined three times: 10^12 rows (SQLite reads about 10^7 a second: days).
SQLITE_ENDLESS = "SELECT a.day AS created_at FROM days AS a CROSS JOIN days AS b CROSS JOIN days AS c"
DAYS = (["day"], [(T(2025, 1, 1 + i % 28),) for i in range(10_000)])

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
  endless:
    sql: "{endless}"
    time: created_at
kpis:
  volume: {{dataset: tickets, formula: count()}}
  endless_volume: {{dataset: endless, formula: count()}}
"""
ENGINES = {"duckdb": (DUCKDB_ENDLESS, {"tickets": TICKETS}),
           "sqlite": (SQLITE_ENDLESS, {"tickets": TICKETS, "days": DAYS})}

HINT = ("raise serve.timeout in kpi.yml (or the timeout= of query()), or narrow the query: fewer periods "
        "(start/end), dimensions or KPIs")


def endless_project(make_project, engine: str) -> kpi_engine.Project:
    endless, tables = ENGINES[engine]
    return make_project(DEFINITIONS.format(endless=endless), tables, engine=engine)


def run_endless(project: kpi_engine.Project, timeout: float) -> tuple[kpi_engine.QueryTimeoutError, float]:
    """The endless KPI over January with a time limit: the error, and the seconds it took to come."""
    started = time.monotonic()
    with pytest.raises(kpi_engine.QueryTimeoutError) as caught:
        project.query("endless_volume", start="2025-01-01", end="2025-01-31", timeout=timeout)
    return caught.value, time.monotonic() - started


def cpu_seconds_in(seconds: float) -> float:
    """The CPU time this process (every thread: the engines' workers too) uses while the test sleeps."""
    before = time.process_time()
    time.sleep(seconds)
    return time.process_time() - before


# ------------------------------------------------------------------ the engine stops
@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_a_query_past_its_limit_is_stopped_on_the_engine(make_project, engine):
    project = endless_project(make_project, engine)
    connection = project.connection()
    error, seconds = run_endless(project, timeout=1)
    assert 1 <= seconds < 4
    assert (error.code, error.exit_code) == ("timeout", 3)
    assert error.message == "the query ran longer than 1 s and was cancelled"
    assert error.hint == HINT
    assert isinstance(error.__cause__, kpi_engine.SourceError)  # the engine's "interrupted", kept for developers
    assert cpu_seconds_in(2) < 0.1  # a statement still running would take about a core: ~2 s
    assert project.connection() is connection
    assert project.query("volume", timeout=10).rows == VOLUMES


def test_duckdb_stops_one_threads_statement_and_no_other(make_project):
    """Every thread's connection is a cursor of one DuckDB handle: interrupting one leaves the others running.

    The other thread counts x % 7 = 3 for x below 3 * 10^9 (seconds, tens on a busy machine): 3 * 10^9 =
    7 * 428571428 + 4, and 3 is among the 4 numbers of the last, partial, block, so 428571428 + 1.
    """
    project = endless_project(make_project, "duckdb")
    other: dict[str, object] = {}

    def count() -> None:
        try:
            rows = project.connection().execute("SELECT count(*) FROM range(3000000000) AS r(x) WHERE x % 7 = 3")[1]
        except Exception as failure:  # noqa: BLE001 - reported by the assertion below
            other.update(failure=failure)
            return
        other.update(rows=rows, ended=time.monotonic())

    thread = threading.Thread(target=count)
    thread.start()
    time.sleep(0.2)
    error, _ = run_endless(project, timeout=1)
    cut_off = time.monotonic()
    thread.join(600)
    assert error.message == "the query ran longer than 1 s and was cancelled"
    assert "failure" not in other, other
    assert other["rows"] == [(428571429,)]
    assert other["ended"] > cut_off  # it was running when the other statement was interrupted


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_an_interrupt_between_statements_stops_nothing(make_project, engine):
    project = endless_project(make_project, engine)
    connection = project.connection()
    assert connection.interrupt() is True
    assert project.query("volume").rows == VOLUMES


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_a_fast_query_with_a_limit_answers_and_leaves_no_thread(make_project, engine):
    project = endless_project(make_project, engine)
    project.connection()
    assert project.query("volume", timeout=30).rows == VOLUMES
    threads = threading.active_count()  # with the helper thread the statement ran in, kept for the next one
    for _ in range(20):
        assert project.query("volume", timeout=30).rows == VOLUMES
    assert project.query("volume", by=(), timeout=0.5).rows == VOLUMES  # well within half a second too
    assert threading.active_count() == threads
    assert 1 <= sum(t.name == "kpi_engine statement" for t in threading.enumerate()) <= timeouts.IDLE_RUNNERS


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "5", True])
def test_a_limit_must_be_a_positive_number_of_seconds(make_project, timeout):
    project = endless_project(make_project, "duckdb")
    with pytest.raises(kpi_engine.QueryError) as caught:
        project.query("volume", timeout=timeout)
    assert caught.value.code == "bad-timeout"
    assert caught.value.message == f"timeout must be a positive number of seconds, not {timeout!r}"


# ------------------------------------------------------------------ engines that cannot be stopped
SLOW_PLUGIN = '''
"""``connector: slow``: an in-memory DuckDB whose statements first wait ``delay`` seconds, as a remote engine may.

``interrupt: none`` keeps the default Connection.interrupt() (it cannot tell the engine anything);
``ignored``: it says it told the engine, but the statement runs on; ``works``: the wait ends at once.
Statements wait ``delay`` times 0.6, 0.8, 1, 1.2 and 1.4 in turn. ``late`` notes, for each interrupt,
whether it came after the statement the test is running (``asked``: how many it ran) had returned.
"""
import threading

import duckdb

from kpi_engine import Connection, Connector, ConnectorOptions, hookimpl


class SlowOptions(ConnectorOptions):
    delay: float = 1.0
    interrupt: str = "none"


class SlowConnection(Connection):
    errors = (duckdb.Error, InterruptedError)

    def __init__(self, connector):
        super().__init__(connector)
        self.con = duckdb.connect()
        self.stop = threading.Event()
        self.interrupts = 0
        self.closed = threading.Event()
        self.asked = self.returned = 0
        self.late = []

    def execute(self, sql, parameters=()):
        self.stop.clear()  # an interrupt stops the statement it came during, as DuckDB's does
        try:
            return super().execute(sql, parameters)
        finally:
            self.returned += 1

    def _execute(self, sql, parameters):
        if self.stop.wait(self.connector.options.delay * (0.6 + 0.2 * (self.returned % 5))):
            raise InterruptedError("interrupted")
        cursor = self.con.execute(sql)
        return [d[0] for d in cursor.description], cursor.fetchall()

    def close(self):
        self.con.close()
        self.closed.set()


class TellingConnection(SlowConnection):
    def interrupt(self):
        self.interrupts += 1
        self.late.append(self.returned >= self.asked)
        if self.connector.options.interrupt == "works":
            self.stop.set()
        return True


class SlowConnector(Connector):
    name = "slow"
    dialect = "duckdb"
    Options = SlowOptions

    def connect(self):
        if self.options.interrupt == "none":
            return SlowConnection(self)
        return TellingConnection(self)


@hookimpl
def register_connectors():
    return [SlowConnector]
'''

SLOW_DEFINITIONS = """
datasets:
  {source}_events:
    sql: "SELECT TIMESTAMP '2025-01-03 09:00:00' AS created_at"
    time: created_at
    source: {source}
kpis:
  {source}_volume: {{dataset: {source}_events, formula: count()}}
"""


def slow_project(root: Path, **sources: str) -> kpi_engine.Project:
    """A project whose sources (name: option lines) are ``slow``; each has a dataset and a KPI ``<source>_volume``."""
    (root / "definitions").mkdir(parents=True)
    (root / "slow.py").write_text(SLOW_PLUGIN)
    blocks = "".join(f"  {name}:\n    connector: slow\n" + textwrap.indent(options, "    ")
                     for name, options in sources.items())
    (root / "kpi.yml").write_text(f"name: slow\nplugins: [slow.py]\nsources:\n{blocks}")
    for name in sources:
        (root / "definitions" / f"{name}.yml").write_text(SLOW_DEFINITIONS.format(source=name))
    return kpi_engine.load(root)


def test_an_engine_that_cannot_be_told_to_stop_still_answers_at_the_limit(tmp_path):
    project = slow_project(tmp_path, default="delay: 1.5\n")
    connection = project.connection()
    started = time.monotonic()
    with pytest.raises(kpi_engine.QueryTimeoutError) as caught:
        project.query("default_volume", timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 1.0  # not the 1.5 s the statement takes
    assert caught.value.message == ("the query ran longer than 0.3 s; source 'default' (slow) could not be told to "
                                    "stop it, so the engine may still be working on it")
    assert caught.value.hint == HINT
    assert not connection.closed.is_set()  # its statement still runs on it...
    assert connection.closed.wait(3)  # ...and closes it when it ends
    assert project.connection() is not connection  # never handed out again
    assert project.query("default_volume").rows == [("2025-01-01", 1)]


def test_an_engine_that_does_not_stop_when_told_is_left_after_the_grace_period(tmp_path, monkeypatch):
    monkeypatch.setattr(timeouts, "GRACE_SECONDS", 1.0)
    project = slow_project(tmp_path, default="delay: 3\ninterrupt: ignored\n")
    connection = project.connection()
    started = time.monotonic()
    with pytest.raises(kpi_engine.QueryTimeoutError) as caught:
        project.query("default_volume", timeout=0.3)
    assert 1.3 <= time.monotonic() - started < 2.5
    assert caught.value.message == ("the query ran longer than 0.3 s; source 'default' (slow) was told to stop it but "
                                    "still ran it 1 s later, so the engine may still be working on it")
    assert connection.interrupts == 3  # at the limit, then after each half second of the grace period
    assert project.connection() is not connection
    assert connection.closed.wait(5)


def test_the_limit_is_for_the_whole_query_across_sources(tmp_path):
    """Two sources, statements of 0.4 s each: alone each ends in time, together they pass the 0.6 s.

    Which source is running when the limit passes depends on how many statements the engine needs
    before the query (column types, for one), so either may be named."""
    project = slow_project(tmp_path, a="delay: 0.4\n", b="delay: 0.4\n")
    started = time.monotonic()
    with pytest.raises(kpi_engine.QueryTimeoutError) as caught:
        project.query(["a_volume", "b_volume"], grain="all", timeout=0.6)
    assert 0.6 <= time.monotonic() - started < 1.0
    assert re.match(r"the query ran longer than 0\.6 s; source '[ab]' \(slow\) could not be told", caught.value.message)
    assert project.query(["a_volume", "b_volume"], grain="all", timeout=10).rows == [(1, 1)]


def test_a_statement_that_ends_as_the_limit_passes_is_never_interrupted_late(tmp_path):
    """Statements of 30 to 70 ms under a 50 ms limit: each ends before, after or as the limit passes."""
    project = slow_project(tmp_path, default="delay: 0.05\ninterrupt: works\n")
    connection = project.connection()
    for _ in range(40):
        connection.asked += 1
        try:
            assert project.query("default_volume", timeout=0.05).rows == [("2025-01-01", 1)]
        except kpi_engine.QueryTimeoutError as error:
            assert error.message == "the query ran longer than 0.05 s and was cancelled"
    assert connection.late  # the limit passed during some statements...
    assert not any(connection.late)  # ...and no interrupt came once its statement had returned
    assert project.query("default_volume").rows == [("2025-01-01", 1)]


def test_a_statement_that_has_ended_is_not_interrupted(tmp_path):
    """Whatever the timing, the helper thread's statement is told to stop only while execute() runs."""
    project = slow_project(tmp_path, default="delay: 0\ninterrupt: works\n")
    connection = project.connection()
    statement = timeouts._Statement(connection, "SELECT 1 AS one")
    assert statement.wait(5)
    assert statement.interrupt() is None  # ended: the connection is not called
    assert connection.interrupts == 0
    assert statement.outcome() == (["one"], [(1,)])
