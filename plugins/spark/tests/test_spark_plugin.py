"""The spark connector on a real local Spark: options, views, files, the CLI, failures, read-only.

Every Spark test shares the process's one Spark application (``local[2]``, started by
the first test that needs it, as the connector reuses a running Spark). The tickets,
with every expected number worked out by hand:

    id  created_at            channel  status  handle_seconds
    1   2025-01-03 09:00:00   email    solved  120
    2   2025-01-20 23:30:00   chat     open    300
    3   2025-01-31 23:59:59   email    solved  -
    4   2025-03-01 00:00:00   chat     solved  60
    5   2025-03-15 12:00:00   email    open    240

By month: January 1, 2, 3 (solved 1 and 3: 2/3; handle 120, 300 -> average 210),
February nothing, March 4, 5 (solved 4: 1/2; handle 60, 240 -> average 150).
The first quarter: 5 tickets, 3 solved (0.6), handle 720 / 4 = 180.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import kpi_engine
from kpi_engine.cli import main
from kpi_engine.testing import write_parquet

T = dt.datetime
JAN, FEB, MAR = "2025-01-01", "2025-02-01", "2025-03-01"
COLUMNS = ["ticket_id", "created_at", "channel", "status", "handle_seconds"]
ROWS = [
    (1, T(2025, 1, 3, 9), "email", "solved", 120),
    (2, T(2025, 1, 20, 23, 30), "chat", "open", 300),
    (3, T(2025, 1, 31, 23, 59, 59), "email", "solved", None),
    (4, T(2025, 3, 1), "chat", "solved", 60),
    (5, T(2025, 3, 15, 12), "email", "open", 240),
]
TICKETS = (COLUMNS, ROWS)
CSV = """ticket_id,created_at,channel,status,handle_seconds
1,2025-01-03 09:00:00,email,solved,120
2,2025-01-20 23:30:00,chat,open,300
3,2025-01-31 23:59:59,email,solved,
4,2025-03-01 00:00:00,chat,solved,60
5,2025-03-15 12:00:00,email,open,240
"""
CONF = """    conf:
      spark.sql.shuffle.partitions: 2
      spark.ui.enabled: false
"""

KPIS = """
  volume:
    dataset: tickets
    formula: count()
  solved_share:
    dataset: tickets
    formula: "count(where status = 'solved') / count()"
  aht:
    dataset: tickets
    formula: avg(handle_seconds)
  first_ticket:
    dataset: tickets
    formula: min(created_at)
"""
TICKETS_DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
kpis:""" + KPIS


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def spark_project(root: Path, views: str, definitions: str = TICKETS_DEFINITIONS, *, source: str | None = None) -> Path:
    """A project whose default source is Spark on local[2] with ``views`` (YAML lines under views:)."""
    if source is None:
        source = f"  default:\n    connector: spark\n    master: local[2]\n{CONF}    views:\n{views}"
    return write(root, {"kpi.yml": f"name: spark_test\nsources:\n{source}",
                        "definitions/main.yml": definitions})


def tickets_parquet(root: Path) -> None:
    write_parquet(root / "data", {"tickets": TICKETS})  # data/tickets.parquet, typed by DuckDB


def kpi(root: Path, *args: str):
    return CliRunner().invoke(main, ["--project", str(root), *args])


def approx_rows(rows):
    return [tuple(pytest.approx(v, rel=1e-9) if isinstance(v, float) else v for v in row) for row in rows]


def assert_one_clear_line(output: str) -> None:
    """No Python traceback, no Java stack trace, no py4j plumbing."""
    for noise in ("Traceback", "\tat ", "py4j", "Py4J", "java.lang.", "An error occurred while calling"):
        assert noise not in output, output


@pytest.fixture(scope="module")
def tickets_project(tmp_path_factory, spark_ready) -> Path:
    """Tickets as one DuckDB-written Parquet file, the view ``tickets``."""
    root = tmp_path_factory.mktemp("spark_tickets")
    tickets_parquet(root)
    return spark_project(root, "      tickets: data/tickets.parquet\n")


# ------------------------------------------------------------------ options (no Spark needed)
@pytest.mark.parametrize(("source", "message"), [
    ("    mastr: local[2]\n", "unknown key 'mastr' in source 'default'; did you mean 'master'?"),
    ("    views:\n      my-view: data/t.parquet\n", "'my-view' is not a valid view name"),
    ("    views:\n      events: data/events\n",
     "view 'events' needs a format: its path 'data/events' has no .parquet, .csv or .json extension"),
    ("    views:\n      t:\n        path: t.csv\n        optoins: {sep: ';'}\n",
     "unknown key 'optoins' in source 'default'; did you mean 'options'?"),
    ("    conf:\n      spark.executor.memory: [4g]\n",
     "the value of 'spark.executor.memory' must be text, a number or true/false, not a list"),
    ("    master: local[2]\n    remote: sc://spark:15002\n",
     "give master (Spark runs in this process) or remote (a Spark Connect server), not both"),
    ("    remote: spark://spark:7077\n", "remote 'spark://spark:7077' is not a Spark Connect URL: write sc://host:15002"),
])
def test_options_are_checked_when_the_project_loads(tmp_path, source, message):
    root = spark_project(tmp_path, "", source=f"  default:\n    connector: spark\n{source}")
    with pytest.raises(kpi_engine.KpiError) as caught:
        kpi_engine.load(root)
    rendered = caught.value.render()
    assert message in rendered
    assert "kpi.yml:" in rendered and caught.value.exit_code == 1


def test_a_file_dataset_without_a_known_extension(tmp_path):
    definitions = ("datasets:\n  events:\n    file: exports/events.dat\n    time: at\n"
                   "kpis:\n  n: {dataset: events, formula: count()}\n")
    root = spark_project(tmp_path, "", definitions, source="  default:\n    connector: spark\n")
    result = kpi(root, "compile", "n")
    assert result.exit_code == 1
    assert "main.yml:3:11: error[no-files]: cannot tell the format of 'exports/events.dat': it has no .parquet, " \
           ".csv or .json extension" in result.stderr


def test_defaults_and_settings_as_text():
    from kpi_engine_spark import SparkOptions, ViewSpec

    defaults = SparkOptions()
    assert (defaults.master, defaults.conf, defaults.views) == ("local[*]", {}, {})
    given = SparkOptions(conf={"spark.sql.shuffle.partitions": 2, "spark.ui.enabled": False},
                         views={"t": {"path": "x", "format": "delta"}})
    assert given.conf_text() == {"spark.sql.shuffle.partitions": "2", "spark.ui.enabled": "false"}
    assert given.views["t"] == ViewSpec(path="x", format="delta")


def test_every_option_is_described():
    from kpi_engine_spark import SparkOptions, ViewSpec

    for model in (SparkOptions, ViewSpec):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"


# ------------------------------------------------------------------ views and files
#: The same tickets as views (a file, a glob, a folder, CSV, JSON Lines, a JSON array, ...) and file: datasets.
KINDS = ["parquet", "csv", "glob", "jsonl", "json", "semicolon", "folder", "file_csv", "file_parquet", "file_json"]


@pytest.fixture(scope="module")
def files_project(tmp_path_factory, spark_ready) -> Iterator[kpi_engine.Project]:
    """The same tickets in every format a view or a ``file:`` dataset reads."""
    root = tmp_path_factory.mktemp("spark_files")
    data = root / "data"
    tickets_parquet(root)
    write_parquet(data / "folder", {"part_1": (COLUMNS, ROWS[:3]), "part_2": (COLUMNS, ROWS[3:])})
    header, *lines = CSV.splitlines()
    records = [dict(zip(COLUMNS, (r[0], r[1].isoformat(sep=" "), *r[2:]))) for r in ROWS]
    write(data, {
        "tickets.csv": CSV,
        "parts/tickets_jan.csv": "\n".join([header, *lines[:3]]) + "\n",
        "parts/tickets_mar.csv": "\n".join([header, *lines[3:]]) + "\n",
        "semicolon.txt": CSV.replace(",", ";"),
        "tickets.jsonl": "".join(json.dumps(r) + "\n" for r in records),
        "tickets.json": json.dumps(records, indent=1),  # one array: Spark needs multiLine, found by the plugin
    })
    views = {
        "parquet": "data/tickets.parquet",
        "csv": "data/tickets.csv",
        "glob": "data/parts/tickets_*.csv",
        "jsonl": "data/tickets.jsonl",
        "json": str(data / "tickets.json"),  # absolute paths stay absolute
        "semicolon": "{path: data/semicolon.txt, options: {sep: ';'}}",
        "folder": "{path: data/folder, format: parquet}",
    }
    files = {"file_csv": "data/tickets.csv", "file_parquet": "data/folder/*.parquet", "file_json": "data/tickets.json"}
    datasets = "".join(f"  d_{kind}:\n    table: t_{kind}\n    time: created_at\n" for kind in views)
    datasets += "".join(f"  d_{kind}:\n    file: {path}\n    time: created_at\n" for kind, path in files.items())
    kpis = "".join(f"  volume_{kind}:\n    dataset: d_{kind}\n    formula: count()\n"
                   f"  aht_{kind}:\n    dataset: d_{kind}\n    formula: avg(handle_seconds)\n"
                   f"  solved_{kind}:\n    dataset: d_{kind}\n    formula: \"count(where status = 'solved')\"\n"
                   for kind in [*views, *files])
    view_lines = "".join(f"      t_{kind}: {path}\n" for kind, path in views.items())
    spark_project(root, view_lines, f"datasets:\n{datasets}kpis:\n{kpis}")
    assert [*views, *files] == KINDS
    project = kpi_engine.load(root)
    yield project
    project.close()


def test_views_and_files_in_every_format_give_the_same_numbers(files_project):
    names = [f"{measure}_{kind}" for measure in ("volume", "aht", "solved") for kind in KINDS]
    result = files_project.query(names)
    n = len(KINDS)
    assert result.columns == ["period", *names]
    assert approx_rows(result.rows) == [
        (JAN, *[3] * n, *[210.0] * n, *[2] * n),
        (FEB, *[0] * n, *[None] * n, *[0] * n),
        (MAR, *[2] * n, *[150.0] * n, *[1] * n),
    ]


def test_file_datasets_read_a_view_named_after_the_file(files_project):
    sql = files_project.compile(["volume_file_csv"])
    assert "kpi_file_tickets_csv_" in sql


def test_bound_parameters(files_project):
    connection = files_project.connection()
    # email tickets: 1, 3, 5; chat: 2, 4
    assert connection.execute("SELECT count(*) AS n FROM t_parquet WHERE channel = ?", ["email"]) == (["n"], [(3,)])
    assert connection.execute("SELECT count(*) AS n FROM t_csv WHERE channel = :c AND ticket_id > :i",
                              {"c": "chat", "i": 2}) == (["n"], [(1,)])
    # a date parameter against a timestamp: tickets from March 1st on are 4 and 5
    assert connection.execute("SELECT count(*) AS n FROM t_parquet WHERE created_at >= ?",
                              [dt.date(2025, 3, 1)]) == (["n"], [(2,)])


def test_columns_come_from_the_analysis(files_project):
    connection = files_project.connection()
    assert connection.columns("t_parquet") == COLUMNS
    assert connection.columns("SELECT channel, count(*) AS n FROM t_json GROUP BY channel") == ["channel", "n"]


# ------------------------------------------------------------------ the command line
def test_kpi_run_through_the_cli(tickets_project):
    result = kpi(tickets_project, "run", "volume", "solved_share", "aht", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"period": JAN, "volume": 3, "solved_share": pytest.approx(2 / 3), "aht": 210.0},
        {"period": FEB, "volume": 0, "solved_share": None, "aht": None},
        {"period": MAR, "volume": 2, "solved_share": 0.5, "aht": 150.0},
    ]
    quarter = kpi(tickets_project, "run", "volume", "solved_share", "aht", "--grain", "quarter", "--format", "csv")
    assert quarter.exit_code == 0, quarter.output
    assert quarter.stdout.splitlines() == ["period,volume,solved_share,aht", "2025-01-01,5,0.6,180.0"]
    by_channel = kpi(tickets_project, "run", "volume", "--by", "channel", "--from", "2025-01-01", "--to",
                     "2025-03-31", "--format", "json")
    assert [tuple(row.values()) for row in json.loads(by_channel.stdout)] == [
        (JAN, "chat", 1), (JAN, "email", 2), (FEB, "chat", 0), (FEB, "email", 0), (MAR, "chat", 1), (MAR, "email", 1)]


def test_kpi_validate_checks_columns_on_spark(tickets_project, tmp_path):
    root = spark_project(tmp_path, f"      tickets: {tickets_project / 'data' / 'tickets.parquet'}\n",
                         TICKETS_DEFINITIONS + "  wrong:\n    dataset: tickets\n    formula: count_distinct(chanel)\n")
    assert kpi(tickets_project, "validate").stdout.startswith("ok: 4 KPIs and 1 dataset;")
    result = kpi(root, "validate")
    assert result.exit_code == 1
    # "    formula: count_distinct(" is 28 characters: the column starts at column 29 of line 22
    assert "main.yml:22:29: error[unknown-column]: unknown column 'chanel' in dataset 'tickets'; " \
           "did you mean 'channel'?" in result.stderr


def test_a_running_spark_is_reused_when_no_master_is_given(tickets_project, tmp_path):
    assert kpi(tickets_project, "run", "volume", "--grain", "all").exit_code == 0  # Spark runs local[2]
    source = (f"  default:\n    connector: spark\n    views:\n"
              f"      tickets: {tickets_project / 'data' / 'tickets.parquet'}\n")
    root = spark_project(tmp_path, "", source=source)
    result = kpi(root, "run", "volume", "--grain", "all", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"volume": 5}]


# ------------------------------------------------------------------ time zones
def test_timestamps_keep_their_wall_clock_whatever_the_python_time_zone(files_project, monkeypatch):
    # PySpark turns a TIMESTAMP into a datetime in the Python process's local time; the connector must not
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        connection = files_project.connection()
        for view in ("t_parquet", "t_csv", "t_json"):  # TIMESTAMP_NTZ from Parquet, TIMESTAMP from CSV and JSON
            assert connection.execute(f"SELECT min(created_at) AS first, max(created_at) AS last FROM {view}") == (
                ["first", "last"], [("2025-01-03T09:00:00", "2025-03-15T12:00:00")]), view
    finally:
        monkeypatch.undo()
        time.tzset()


DST = """
datasets:
  calls:
    table: calls
    time: started_at
kpis:
  call_hours:
    dataset: calls
    formula: sum(hours_between(started_at, ended_at))
"""


@pytest.mark.parametrize(("zone", "hours"), [
    # naive times of UTC: 01:30 -> 03:30 is 2 hours, as DuckDB counts them
    ("", 2.0),
    # naive times of Berlin, which moved its clocks from 02:00 to 03:00 that night: 1 hour went by
    ("    timezone: Europe/Berlin\n", 1.0),
])
def test_elapsed_time_follows_the_datasets_zone_never_the_sessions(tmp_path, spark_ready, zone, hours):
    write_parquet(tmp_path / "data", {"calls": (["started_at", "ended_at"],
                                                        [(T(2025, 3, 30, 1, 30), T(2025, 3, 30, 3, 30))])})
    source = (f"  default:\n    connector: spark\n    master: local[2]\n{CONF}"
              f"    views:\n      calls: data/calls.parquet\n")
    definitions = DST.replace("    time: started_at\n", "    time: started_at\n" + zone)
    with kpi_engine.load(spark_project(tmp_path, "", definitions, source=source)) as project:
        assert project.query(["call_hours"], grain="all").rows == [(hours,)]


def test_the_session_time_zone_cannot_be_set(tmp_path):
    source = ("  default:\n    connector: spark\n    conf:\n      spark.sql.session.timeZone: Europe/Berlin\n")
    with pytest.raises(kpi_engine.DefinitionError) as caught:
        kpi_engine.load(spark_project(tmp_path, "", DST, source=source))
    assert "spark.sql.session.timeZone is always UTC" in caught.value.message
    assert caught.value.file.endswith("kpi.yml") and caught.value.line == 5


def test_decimals_come_back_as_on_duckdb(tmp_path, spark_ready):
    # amounts 1, 1, 2 as DECIMAL(18, 4) (written by DuckDB): sum 4, average 4/3, largest 2, 3 orders.
    # DuckDB gives DECIMAL sums and extremes (returned as numbers) and a DOUBLE average; Spark's own
    # average of a DECIMAL has 8 decimals (1.33333333), which the Spark dialect avoids.
    rows = [(i, T(2025, 1, i), Decimal(amount)) for i, amount in ((1, "1.0000"), (2, "1.0000"), (3, "2.0000"))]
    write_parquet(tmp_path / "data", {"orders": (["order_id", "ordered_at", "amount"], rows)})
    definitions = """
        datasets:
          orders: {table: orders, time: ordered_at}
        kpis:
          revenue: {dataset: orders, formula: sum(amount)}
          basket: {dataset: orders, formula: avg(amount)}
          biggest: {dataset: orders, formula: max(amount)}
          orders_n: {dataset: orders, formula: count()}
    """
    root = spark_project(tmp_path, "      orders: data/orders.parquet\n", definitions)
    with kpi_engine.load(root) as project:
        result = project.query(["revenue", "basket", "biggest", "orders_n"], grain="all")
    assert result.rows == [(4.0, 4 / 3, 2.0, 3)]
    assert [type(v) for v in result.rows[0]] == [float, float, float, int]


# ------------------------------------------------------------------ sessions
def test_each_project_has_its_own_views_and_closing_drops_them(tmp_path, spark_ready):
    first = spark_project(tmp_path / "a", "      tickets: data/tickets.parquet\n")
    tickets_parquet(first)
    second = spark_project(tmp_path / "b", "      tickets: data/tickets.parquet\n")
    write_parquet(second / "data", {"tickets": (COLUMNS, ROWS[:2])})
    a, b = kpi_engine.load(first), kpi_engine.load(second)
    count = "SELECT count(*) AS n FROM tickets"
    try:
        assert a.connection().execute(count)[1] == [(5,)]
        assert b.connection().execute(count)[1] == [(2,)]  # the same view name, another session
        connection = a.connection()
        a.close()
        with pytest.raises(kpi_engine.SourceError, match="TABLE_OR_VIEW_NOT_FOUND"):
            connection.execute(count)
        assert b.connection().execute(count)[1] == [(2,)]
    finally:
        a.close()
        b.close()


# ------------------------------------------------------------------ read-only
def test_a_spark_source_never_writes(files_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where Spark would create spark-warehouse/ for a CREATE TABLE
    data = files_project.root / "data"

    def snapshot() -> dict[str, str]:
        return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(data.rglob("*")) if p.is_file()}

    before = snapshot()
    connection = files_project.connection()
    writes = [
        "INSERT INTO t_parquet SELECT * FROM t_parquet",
        "INSERT OVERWRITE DIRECTORY '" + str(data / "out") + "' USING parquet SELECT * FROM t_parquet",
        "CREATE TABLE copied AS SELECT * FROM t_parquet",
        "CREATE OR REPLACE TEMPORARY VIEW t_parquet AS SELECT 1 AS ticket_id",
        "DROP VIEW t_parquet",
        "CACHE TABLE t_parquet",
        "SET spark.sql.ansi.enabled = false",
        "SELECT 1; DROP VIEW t_parquet",
        "SELECT reflect('java.lang.System', 'setProperty', 'kpi_engine_test', 'written')",
    ]
    for statement in writes:
        with pytest.raises(kpi_engine.SourceError) as caught:
            connection.execute(statement)
        assert caught.value.message.startswith("source 'default' (spark local[2]) refused "), statement
    assert connection.execute("SELECT count(*) AS n, sum(handle_seconds) AS h FROM t_parquet")[1] == [(5, 720)]
    assert snapshot() == before
    assert list(tmp_path.iterdir()) == []
    from pyspark import SparkContext

    assert SparkContext._active_spark_context._jvm.System.getProperty("kpi_engine_test") is None


def test_a_dataset_sql_that_writes_is_refused_before_spark(tmp_path):
    definitions = "datasets:\n  evil:\n    sql: INSERT INTO tickets SELECT * FROM tickets\n    time: created_at\n"
    root = spark_project(tmp_path, "      tickets: data/tickets.parquet\n", definitions)
    result = kpi(root, "validate", "--no-source")
    assert result.exit_code == 1
    assert "main.yml:3:10" in result.stderr and "SELECT" in result.stderr


# ------------------------------------------------------------------ failures: exit 3, one clear message
def test_a_missing_view_file(tmp_path):
    root = spark_project(tmp_path, "      tickets: data/nowhere.parquet\n")
    result = kpi(root, "run", "volume")
    assert result.exit_code == 3
    assert "error[source]: source 'default' (spark local[2]): view 'tickets': no file matches " \
           "data/nowhere.parquet" in result.stderr
    assert "relative to kpi.yml" in result.stderr
    assert_one_clear_line(result.output)


def test_a_file_that_is_not_parquet_and_a_path_spark_cannot_find(tmp_path, spark_ready):
    write(tmp_path, {"data/tickets.parquet": "these are not Parquet bytes"})
    root = spark_project(tmp_path, "      tickets: data/tickets.parquet\n")
    result = kpi(root, "run", "volume")
    assert result.exit_code == 3
    assert ("source 'default' (spark local[2]) cannot read view 'tickets' from data/tickets.parquet: "
            "[FAILED_READ_FILE") in result.stderr
    assert_one_clear_line(result.output)

    missing = tmp_path / "elsewhere" / "tickets.parquet"
    (root / "kpi.yml").write_text((root / "kpi.yml").read_text().replace("data/tickets.parquet", missing.as_uri()))
    result = kpi(root, "run", "volume")
    assert result.exit_code == 3
    assert f"cannot read view 'tickets' from {missing.as_uri()}: [PATH_NOT_FOUND] Path does not exist" in result.stderr
    assert "every executor (with remote:, the server) must reach the path" in result.stderr
    assert_one_clear_line(result.output)


def test_a_missing_table(tickets_project, tmp_path, monkeypatch):
    definitions = TICKETS_DEFINITIONS.replace("table: tickets", "table: tickts")
    root = spark_project(tmp_path, f"      tickets: {tickets_project / 'data' / 'tickets.parquet'}\n", definitions)
    result = kpi(root, "run", "volume")
    assert result.exit_code == 3
    # the failed query is followed by the live column checks, which place the error at the dataset's table:
    assert "main.yml:3:12: error[source]: dataset 'tickets' cannot be read: source 'default' (spark local[2]) " \
           "failed: [TABLE_OR_VIEW_NOT_FOUND] The table or view `tickts` cannot be found." in result.stderr
    assert "hint: did you mean 'tickets'? a table: dataset reads a view listed under 'views:' in kpi.yml" \
           in result.stderr
    assert_one_clear_line(result.output)

    connection = kpi_engine.load(root).connection()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(kpi_engine.SourceError) as caught:
        connection.execute("SELECT * FROM nothing_like_it")
    # looking a table up makes Spark create its warehouse folder: not ./spark-warehouse in the user's folder
    assert not (tmp_path / "spark-warehouse").exists()
    from pyspark.sql import SparkSession

    warehouse = SparkSession._instantiatedSession.conf.get("spark.sql.warehouse.dir")
    assert warehouse.removeprefix("file:").lstrip("/").startswith(tempfile.gettempdir().lstrip("/"))
    assert caught.value.message == ("source 'default' (spark local[2]) failed: [TABLE_OR_VIEW_NOT_FOUND] The table "
                                    "or view `nothing_like_it` cannot be found. Verify the spelling and correctness "
                                    "of the schema and catalog.")
    assert caught.value.hint.startswith("a table: dataset reads a view")
    connection.close()


@pytest.mark.parametrize(("master", "message"), [
    ("lcoal[2]", "'lcoal[2]' is not a Spark master URL; use local[*], local[N], spark://host:7077, yarn or "
                 "k8s://https://host:port"),
    ("local[two]", "'local[two]' is not a Spark master URL"),
    ("spark:/host:7077", "'spark:/host:7077' is not a Spark master URL"),
    ("mesos://host:5050", "'mesos://host:5050' is not a Spark master URL"),  # spark-submit 4 would refuse it
])
def test_an_invalid_master(tmp_path, master, message):
    source = f"  default:\n    connector: spark\n    master: '{master}'\n    views:\n      tickets: t.parquet\n"
    result = kpi(spark_project(tmp_path, "", source=source), "run", "volume")
    assert result.exit_code == 3
    assert f"source 'default' (spark {master}): {message}" in result.stderr
    assert_one_clear_line(result.output)


def test_another_master_than_the_running_spark(tickets_project, tmp_path):
    assert kpi(tickets_project, "run", "volume", "--grain", "all").exit_code == 0  # Spark runs local[2]
    source = (f"  default:\n    connector: spark\n    master: spark://spark-master:7077\n    views:\n"
              f"      tickets: {tickets_project / 'data' / 'tickets.parquet'}\n")
    result = kpi(spark_project(tmp_path, "", source=source), "run", "volume")
    assert result.exit_code == 3
    assert ("source 'default' (spark spark://spark-master:7077): this process already runs Spark with master "
            "'local[2]', and a process runs one Spark application") in result.stderr
    assert_one_clear_line(result.output)


@pytest.mark.parametrize(("setting", "reason"), [
    # spark-submit refuses it with a Java exception and its stack trace on stderr
    ("spark.submit.deployMode: cluster",
     'cannot start Spark: Cluster deploy mode is not compatible with master "local"'),
    # the JVM itself refuses to start
    ("spark.driver.memory: lots", "cannot start Spark: Invalid maximum heap size: -Xmxlots"),
])
def test_a_setting_spark_refuses_at_start(tickets_project, tmp_path, setting, reason):
    source = (f"  default:\n    connector: spark\n    master: local[2]\n    conf:\n      {setting}\n    views:\n"
              f"      tickets: {tickets_project / 'data' / 'tickets.parquet'}\n")
    root = spark_project(tmp_path, "", source=source)
    done = subprocess.run([sys.executable, "-m", "kpi_engine", "--project", str(root), "run", "volume"],
                          capture_output=True, text=True, env={**os.environ, "KPI_ENGINE_NO_CACHE": "1"}, timeout=120)
    assert done.returncode == 3, done.stderr
    assert f"error[source]: source 'default' (spark local[2]) {reason}" in done.stderr
    assert_one_clear_line(done.stdout + done.stderr)


def _kpi_without_java(root: Path, **env: str) -> subprocess.CompletedProcess:
    """``kpi run`` in a new process (no Spark running yet), with a PATH that has no java."""
    clean = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PATH")}
    clean.update(PATH=str(Path(sys.executable).parent), KPI_ENGINE_NO_CACHE="1", **env)
    return subprocess.run([sys.executable, "-m", "kpi_engine", "--project", str(root), "run", "volume"],
                          capture_output=True, text=True, env=clean, timeout=120)


def test_java_missing(tickets_project):
    done = _kpi_without_java(tickets_project)
    assert done.returncode == 3, done.stderr
    assert ("error[source]: source 'default' (spark local[2]): Spark needs Java, and there is no java on PATH "
            "and no JAVA_HOME") in done.stderr
    assert "hint: install Java 17 or 21" in done.stderr
    assert_one_clear_line(done.stdout + done.stderr)

    done = _kpi_without_java(tickets_project, JAVA_HOME="/nonexistent/jdk")
    assert done.returncode == 3
    assert "Spark needs Java, and JAVA_HOME=/nonexistent/jdk has no bin/java" in done.stderr
    assert_one_clear_line(done.stdout + done.stderr)


# ------------------------------------------------------------------ packaging
def test_the_entry_point_registers_the_connector():
    found = importlib.metadata.entry_points(group="kpi_engine", name="spark")
    assert [entry.value for entry in found] == ["kpi_engine_spark"]
    registry = kpi_engine.get_plugin_manager().hook.register_connectors()
    from kpi_engine_spark import SparkConnector

    assert SparkConnector in [cls for classes in registry for cls in classes]
    assert (SparkConnector.name, SparkConnector.dialect, SparkConnector.reads_files) == ("spark", "spark", True)


def test_loading_and_compiling_do_not_import_pyspark(tickets_project):
    script = textwrap.dedent(f"""
        import sys
        import kpi_engine
        project = kpi_engine.load({str(tickets_project)!r})
        assert "MAKE_DATE" in project.compile(["volume"])
        assert "pyspark" not in sys.modules and "py4j" not in sys.modules, "pyspark was imported"
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ Spark Connect (remote:)
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def connect_server(spark_ready, tmp_path_factory) -> Iterator[str]:
    """A Spark Connect server on local[1] in its own process (PySpark ships the server), as a cluster would run."""
    pytest.importorskip("grpc", reason="Spark Connect needs pip install 'kpi-engine-spark[connect]'")
    import pyspark

    import kpi_engine_spark

    port = _free_port()
    folder = tmp_path_factory.mktemp("connect")
    log = folder / "server.log"
    log4j = Path(kpi_engine_spark.__file__).with_name("log4j2.properties").as_uri()
    command = [str(Path(pyspark.__file__).parent / "bin" / "spark-submit"),
               "--class", "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[1]",
               "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.ui.enabled=false",
               "--conf", "spark.sql.shuffle.partitions=1", "--conf", f"spark.sql.warehouse.dir={folder / 'warehouse'}",
               "--conf", f"spark.driver.extraJavaOptions=-Dlog4j2.configurationFile={log4j}", "spark-internal"]
    with open(log, "w") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Spark Connect server did not start:\n{log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        from kpi_engine_spark.remote import release_sessions

        release_sessions()  # the `kpi` runs above leave theirs open until exit, as the command does
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_kpis_on_a_spark_connect_server(connect_server, tickets_project, tmp_path):
    source = (f"  default:\n    connector: spark\n    remote: {connect_server}\n    views:\n"
              f"      tickets: {tickets_project / 'data' / 'tickets.parquet'}\n")
    root = spark_project(tmp_path, "", source=source)
    result = kpi(root, "run", "volume", "solved_share", "aht", "first_ticket", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"period": JAN, "volume": 3, "solved_share": pytest.approx(2 / 3), "aht": 210.0,
         "first_ticket": "2025-01-03T09:00:00"},
        {"period": FEB, "volume": 0, "solved_share": None, "aht": None, "first_ticket": None},
        {"period": MAR, "volume": 2, "solved_share": 0.5, "aht": 150.0, "first_ticket": "2025-03-01"},
    ]
    assert kpi(root, "validate").stdout.startswith("ok: 4 KPIs and 1 dataset;")
    with kpi_engine.load(root) as project:
        connection = project.connection()
        assert connection.execute("SELECT count(*) AS n FROM tickets WHERE channel = ?", ["chat"]) == (["n"], [(2,)])
        with pytest.raises(kpi_engine.SourceError, match=r"refused a statement that is not one SELECT query"):
            connection.execute("DROP VIEW tickets")
        assert connection.execute("SELECT count(*) AS n FROM tickets")[1] == [(5,)]
        with pytest.raises(kpi_engine.SourceError) as caught:
            connection.execute("SELECT * FROM tickts")
        assert caught.value.message.startswith(f"source 'default' (spark {connect_server}) failed: "
                                               "[TABLE_OR_VIEW_NOT_FOUND] The table or view `tickts` cannot be found.")
        assert caught.value.hint.startswith("did you mean 'tickets'?")


def test_an_unreachable_spark_connect_server(tmp_path):
    pytest.importorskip("grpc", reason="Spark Connect needs pip install 'kpi-engine-spark[connect]'")
    url = f"sc://127.0.0.1:{_free_port()}/;token=s3cret"
    source = f"  default:\n    connector: spark\n    remote: '{url}'\n    views:\n      tickets: t.parquet\n"
    result = kpi(spark_project(tmp_path, "", source=source), "run", "volume")
    assert result.exit_code == 3
    assert "error[source]: source 'default' (spark sc://127.0.0.1:" in result.stderr
    assert "/;token=***) cannot reach the Spark Connect server: failed to connect to all addresses" in result.stderr
    assert "Connection refused" in result.stderr and "s3cret" not in result.output
    assert_one_clear_line(result.output)


# ------------------------------------------------------------------ time limits
#: 10^13 rows (local[2] reads some 10^8 a second: days), 28 days of January 2025.
ENDLESS_DEFINITIONS = TICKETS_DEFINITIONS.replace("kpis:", """  endless:
    sql: "SELECT DATE_ADD(DATE'2025-01-01', CAST(id % 28 AS INT)) AS created_at FROM range(10000000000000)"
    time: created_at
kpis:
  endless_volume:
    dataset: endless
    formula: count()""")
VOLUMES = [(JAN, 3), (FEB, 0), (MAR, 2)]


def _run_endless(project: kpi_engine.Project, timeout: float) -> tuple[kpi_engine.QueryTimeoutError, float]:
    started = time.monotonic()
    with pytest.raises(kpi_engine.QueryTimeoutError) as caught:
        project.query(["endless_volume"], start=JAN, end="2025-01-31", timeout=timeout)
    return caught.value, time.monotonic() - started


def _task_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) the task threads of a Spark JVM of this machine have used: the threads that
    run a job's tasks ("Executor task launch worker ..."; the JIT compiler may still work a moment after)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # a thread that ended
            continue
        name, fields = text[text.index("(") + 1:text.rindex(")")], text.rsplit(")", 1)[1].split()
        if name.startswith("Executor task"):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _task_cpu_seconds_in(pid: int, seconds: float) -> float:
    before = _task_cpu_seconds(pid)
    time.sleep(seconds)
    return _task_cpu_seconds(pid) - before


def test_a_query_past_its_limit_stops_its_spark_jobs(tmp_path, spark_ready):
    from pyspark import SparkContext

    tickets_parquet(tmp_path)
    root = spark_project(tmp_path, "      tickets: data/tickets.parquet\n", ENDLESS_DEFINITIONS)
    with kpi_engine.load(root) as project:
        connection = project.connection()
        context = SparkContext._active_spark_context
        jvm = context._gateway.proc.pid  # the Spark driver and its local[2] executor threads
        error, seconds = _run_endless(project, timeout=2)
        assert 2 <= seconds < 7  # the limit, and at most the 5 s kpi_engine waits for the jobs to stop
        assert (error.code, error.exit_code) == ("timeout", 3)
        assert error.message == "the query ran longer than 2 s and was cancelled"
        assert "[SPARK_JOB_CANCELLED]" in error.__cause__.message
        tracker = context.statusTracker()
        assert (tracker.getActiveJobsIds(), tracker.getActiveStageIds()) == ([], [])
        assert _task_cpu_seconds_in(jvm, 2) < 0.05  # tasks still running would take about two cores: ~4 s
        assert project.connection() is connection
        context.setJobGroup("the_tests_own", "a job group of the calling thread")
        try:  # without a limit the statement runs on this thread, under a job group of its own, then this one again
            assert project.query(["volume"]).rows == VOLUMES
            assert context.getLocalProperty("spark.jobGroup.id") == "the_tests_own"
        finally:
            context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
        threads = set(threading.enumerate())
        assert project.query(["volume"], timeout=60).rows == VOLUMES
        # the query started no thread that outlives it (one of an earlier test may end meanwhile: not counted)
        assert set(threading.enumerate()) - threads == set()
        assert connection.interrupt() is True  # between statements: nothing to stop...
        assert project.query(["volume"]).rows == VOLUMES  # ...and the next statement runs


def _server_pid(url: str) -> int:
    """The Spark Connect server's process (the fixture's spark-submit runs it), by the port in its command line."""
    port = url.rsplit(":", 1)[1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"spark.connect.grpc.binding.port={port}".encode() in cmdline.read_bytes():
                return int(cmdline.parent.name)
        except OSError:
            continue
    raise AssertionError(f"no Spark Connect server process on port {port}")


def test_a_query_past_its_limit_is_interrupted_on_a_spark_connect_server(connect_server, tickets_project, tmp_path):
    source = (f"  default:\n    connector: spark\n    remote: {connect_server}\n    views:\n"
              f"      tickets: {tickets_project / 'data' / 'tickets.parquet'}\n")
    root = spark_project(tmp_path, "", ENDLESS_DEFINITIONS, source=source)
    with kpi_engine.load(root) as project:
        connection = project.connection()
        assert connection.execute("SELECT count(*) AS n FROM tickets")[1] == [(5,)]
        error, seconds = _run_endless(project, timeout=2)
        assert 2 <= seconds < 7
        assert error.message == "the query ran longer than 2 s and was cancelled"
        # the server cancels its task asynchronously: after a second of grace, a task still running would
        # use about 2 s of CPU in 2 s (local[1]), a cancelled one none
        time.sleep(1)
        assert _task_cpu_seconds_in(_server_pid(connect_server), 2) < 0.2
        assert project.connection() is connection
        assert project.query(["volume"], timeout=60).rows == VOLUMES
