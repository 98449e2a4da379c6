"""The ``postgres`` connector on a real PostgreSQL server (the ``postgres_dsn`` fixture, see conftest.py).

The tickets every test reads (in a fresh schema per test):

    id  created_at           channel  status    handle_seconds  price
    1   2025-01-03 09:00     email    resolved  100             10.25
    2   2025-01-15 14:30     chat     open      200              3.10
    3   2025-01-31 23:59:59  email    resolved  -                -
    4   2025-03-01 00:00     chat     resolved  300              7.00
    5   2025-03-10 12:00     email    open      401              1.99

Worked out by hand, per month (February has no tickets):

    volume          Jan 3                 Feb 0      Mar 2
    resolved_share  Jan 2/3 (ids 1, 3)    Feb null   Mar 1/2 (id 4)
    aht             Jan (100+200)/2=150   Feb null   Mar (300+401)/2=350.5
    revenue         Jan 10.25+3.10=13.35  Feb 0      Mar 7.00+1.99=8.99
    handle_minutes  Jan round(150/60=2.5)=3 (half away from zero; PostgreSQL's own ROUND(double) gives 2)
                    Feb null              Mar round(350.5/60=5.84)=6
    p25             Jan 100+0.25*(200-100)=125   Feb null   Mar 300+0.25*(401-300)=325.25
    volume by channel: Jan chat 1 (id 2), email 2 (ids 1, 3); Feb both 0; Mar chat 1 (id 4), email 1 (id 5)
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import conninfo

import kpi_engine
from kpi_engine.cli import main
from kpi_engine.testing import drop_postgres_schema, new_postgres_schema
from kpi_engine_postgres import PostgresConnection, PostgresConnector, PostgresOptions
from kpi_engine_postgres.options import parse_duration

T = dt.datetime

TICKETS = (
    ["id", "created_at", "channel", "status", "handle_seconds", "price"],
    [
        (1, T(2025, 1, 3, 9), "email", "resolved", 100, Decimal("10.25")),
        (2, T(2025, 1, 15, 14, 30), "chat", "open", 200, Decimal("3.10")),
        (3, T(2025, 1, 31, 23, 59, 59), "email", "resolved", None, None),
        (4, T(2025, 3, 1), "chat", "resolved", 300, Decimal("7.00")),
        (5, T(2025, 3, 10, 12), "email", "open", 401, Decimal("1.99")),
    ],
)
TABLES = {"tickets": TICKETS}

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
kpis:
  volume: {dataset: tickets, formula: count(), format: integer}
  resolved_share:
    dataset: tickets
    formula: "count(where status = 'resolved') / count()"
    format: percent
  aht: {dataset: tickets, formula: avg(handle_seconds)}
  revenue: {dataset: tickets, formula: sum(price)}
  handle_minutes: {dataset: tickets, formula: round(avg(handle_seconds) / 60)}
  p25: {dataset: tickets, formula: "percentile(handle_seconds, 0.25)"}
"""
KPIS = ["volume", "resolved_share", "aht", "revenue", "handle_minutes", "p25"]
JAN, FEB, MAR = "2025-01-01", "2025-02-01", "2025-03-01"
EXPECTED = [
    (JAN, 3, 2 / 3, 150.0, 13.35, 3.0, 125.0),
    (FEB, 0, None, None, 0.0, None, None),
    (MAR, 2, 0.5, 350.5, 8.99, 6.0, 325.25),
]


# ---------------------------------------------------------------- fixtures and helpers
@dataclass(frozen=True)
class Server:
    """The test server's connection parameters (the password is the one the fixture set)."""

    dsn: str
    host: str
    port: int
    user: str
    password: str
    dbname: str

    def location(self, dbname: str | None = None) -> str:
        return f"postgres {self.host}:{self.port}/{dbname or self.dbname}"


@pytest.fixture
def server(postgres_dsn: str) -> Server:
    params = conninfo.conninfo_to_dict(postgres_dsn)
    return Server(postgres_dsn, str(params["host"]), int(params["port"]), str(params["user"]),
                  str(params["password"]), str(params["dbname"]))


@pytest.fixture
def schema(server: Server) -> Iterator[str]:
    """A new schema holding the tickets, dropped afterwards."""
    name = new_postgres_schema(server.dsn, TABLES)
    yield name
    drop_postgres_schema(server.dsn, name)


def admin(server: Server, *statements: str) -> list[tuple]:
    """Run statements as the server's owner, outside kpi_engine; the rows of the last one."""
    with psycopg.connect(server.dsn, autocommit=True) as con:
        rows: list[tuple] = []
        for statement in statements:
            cursor = con.execute(statement)
            rows = cursor.fetchall() if cursor.description else []
        return rows


def write_project(root: Path, source: str, definitions: str = DEFINITIONS) -> Path:
    """A project folder whose ``default`` source has the given options (YAML lines)."""
    (root / "definitions").mkdir(parents=True, exist_ok=True)
    (root / "definitions" / "support.yml").write_text(textwrap.dedent(definitions))
    (root / "kpi.yml").write_text("name: pg\nsources:\n  default:\n    connector: postgres\n"
                                  + textwrap.indent(textwrap.dedent(source).strip() + "\n", "    "))
    return root


def kpi(root: Path, *args: str):
    return CliRunner().invoke(main, ["--project", str(root), *args])


def run_json(root: Path, *args: str) -> list[dict]:
    result = kpi(root, "run", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def typed(rows: list[tuple]) -> list[tuple]:
    """Rows with each value's type, so 0 and 0.0 differ."""
    return [tuple((type(v).__name__, v) for v in row) for row in rows]


@pytest.fixture
def project_at(tmp_path: Path, server: Server, schema: str) -> Callable[..., Path]:
    """project_at(extra option lines, definitions) -> a project reading the tickets through ``schema:``."""
    counter = iter(range(100))

    def make(extra: str = "", definitions: str = DEFINITIONS) -> Path:
        source = f"dsn: '{server.dsn}'\nschema: {schema}\n" + textwrap.dedent(extra)
        return write_project(tmp_path / f"p{next(counter)}", source, definitions)

    return make


# ---------------------------------------------------------------- the plugin is found
def test_the_connector_is_registered_through_the_entry_point():
    points = [ep for ep in importlib.metadata.entry_points(group="kpi_engine") if ep.name == "postgres"]
    assert [ep.value for ep in points] == ["kpi_engine_postgres"]
    pm = kpi_engine.get_plugin_manager()
    connectors = {cls.name: cls for classes in pm.hook.register_connectors() for cls in classes}
    assert connectors["postgres"] is PostgresConnector
    assert (PostgresConnector.dialect, PostgresConnector.Options) == ("postgres", PostgresOptions)


def test_a_new_process_finds_the_plugin_and_runs_a_kpi(project_at):
    root = project_at()
    done = subprocess.run([sys.executable, "-m", "kpi_engine", "--project", str(root), "run", "volume",
                           "--format", "csv"], capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == ["period,volume", "2025-01-01,3", "2025-02-01,0", "2025-03-01,2"]


# ---------------------------------------------------------------- options
@pytest.mark.parametrize("lines, message", [
    ("dsn: 'host=localhost'\nschemas: support\n", "unknown key 'schemas' in source 'default'; did you mean 'schema'?"),
    ("host: localhost\npasswrd: x\n", "unknown key 'passwrd' in source 'default'; did you mean 'password'?"),
    ("host: localhost\nstatement_timout: 5s\n",
     "unknown key 'statement_timout' in source 'default'; did you mean 'statement_timeout'?"),
    ("host: localhost\nport: fivefour\n", "port must be a whole number; got 'fivefour'"),
    ("host: localhost\nport: 99999\n", "port input should be less than or equal to 65535; got 99999"),
    ("host: localhost\nstatement_timeout: soon\n",
     "statement_timeout must be a duration such as 30, '30s', '500ms' or '2min'; got 'soon'"),
    ("host: localhost\nconnect_timeout: 0s\n", "connect_timeout must be more than 0 seconds; got '0s'"),
    ("host: localhost\nschema: []\n", "schema must be a schema name or a list of schema names"),
])
def test_options_are_checked_when_the_project_loads(tmp_path, lines, message):
    root = write_project(tmp_path, lines)
    result = kpi(root, "validate", "--no-source")
    assert result.exit_code == 1, result.output
    assert "kpi.yml:" in result.stderr and "error[schema]" in result.stderr
    assert message in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_a_dsn_libpq_cannot_read_is_an_error_that_never_shows_it(tmp_path):
    root = write_project(tmp_path, "dsn: 'host=db.internal user=kpi Hunter2-secret'\n")
    result = kpi(root, "validate", "--no-source")
    assert result.exit_code == 1
    assert "dsn is not a PostgreSQL connection string" in result.stderr
    assert "Hunter2" not in result.output


@pytest.mark.parametrize("given, seconds", [
    (30, 30.0), ("1.5", 1.5), ("500ms", 0.5), ("30s", 30.0), ("30 sec", 30.0), ("2min", 120.0), ("1h", 3600.0),
])
def test_durations(given, seconds):
    assert parse_duration(given, "statement_timeout") == seconds


@pytest.mark.parametrize("given", ["0", "-1s", "soon", "5 fortnights", True])
def test_bad_durations(given):
    with pytest.raises(ValueError, match="statement_timeout must be"):
        parse_duration(given, "statement_timeout")


def test_fields_replace_the_parts_of_the_dsn_they_name():
    options = PostgresOptions(dsn="postgresql://kpi:s3cret-pw@db.internal:6543/warehouse?sslmode=require",
                              dbname="sales", port=5433)
    params = options.parameters()
    assert {k: params[k] for k in ("host", "port", "user", "password", "dbname", "sslmode")} == {
        "host": "db.internal", "port": "5433", "user": "kpi", "password": "s3cret-pw", "dbname": "sales",
        "sslmode": "require"}
    assert params["connect_timeout"] == "10"  # the default, so a server that is down fails fast
    assert PostgresConnector(options).describe() == "postgres db.internal:5433/sales"
    # the dsn's own connect_timeout stays unless the option is given
    assert PostgresOptions(dsn="host=h connect_timeout=3").parameters()["connect_timeout"] == "3"
    given = PostgresOptions(dsn="host=h connect_timeout=3", connect_timeout="20s")
    assert given.parameters()["connect_timeout"] == "20"


def test_secrets_never_show():
    options = PostgresOptions(dsn="postgresql://kpi:dsn-hush-1@db:5432/w", password="field-hush-2")
    shown = " ".join([repr(options), str(options), str(options.model_dump()), PostgresConnector(options).describe()])
    assert "hush" not in shown
    assert options.parameters()["password"] == "field-hush-2"  # the field replaces the dsn's password


def test_separate_fields_connect(tmp_path, server, schema):
    root = write_project(tmp_path, f"""
        host: {server.host}
        port: {server.port}
        user: {server.user}
        password: {server.password}
        dbname: {server.dbname}
        schema: {schema}
    """)
    assert run_json(root, "volume") == [{"period": JAN, "volume": 3}, {"period": FEB, "volume": 0},
                                        {"period": MAR, "volume": 2}]


def test_a_password_field_wins_over_the_dsns(tmp_path, server, schema):
    wrong = server.dsn.replace(f":{server.password}@", ":not-the-password@")
    assert wrong != server.dsn
    root = write_project(tmp_path, f"dsn: '{wrong}'\npassword: {server.password}\nschema: {schema}\n")
    assert [row["volume"] for row in run_json(root, "volume")] == [3, 0, 2]


def test_without_dsn_or_fields_libpq_reads_the_environment(tmp_path, server, schema, monkeypatch):
    for key, value in {"PGHOST": server.host, "PGPORT": str(server.port), "PGUSER": server.user,
                       "PGPASSWORD": server.password, "PGDATABASE": server.dbname}.items():
        monkeypatch.setenv(key, value)
    root = write_project(tmp_path, f"schema: {schema}\n")
    assert [row["volume"] for row in run_json(root, "volume")] == [3, 0, 2]
    project = kpi_engine.load(root)
    assert project.connectors["default"].describe() == server.location()
    project.close()


# ---------------------------------------------------------------- schema
def test_schema_sets_where_tables_are_read(project_at, tmp_path, server, schema):
    assert [row["volume"] for row in run_json(project_at(), "volume")] == [3, 0, 2]
    # without schema:, the table is qualified by the dataset itself
    qualified = DEFINITIONS.replace("table: tickets", f"table: {schema}.tickets")
    root = write_project(tmp_path / "qualified", f"dsn: '{server.dsn}'\n", qualified)
    assert [row["volume"] for row in run_json(root, "volume")] == [3, 0, 2]


def test_a_list_of_schemas_is_searched_in_order(tmp_path, server, schema):
    # a second schema whose tickets table has one row, in February
    other = new_postgres_schema(server.dsn, {"tickets": (TICKETS[0], [
        (9, T(2025, 2, 14), "chat", "open", 60, Decimal("1.00"))])})
    try:
        first = write_project(tmp_path / "a", f"dsn: '{server.dsn}'\nschema: [{other}, {schema}]\n")
        assert run_json(first, "volume") == [{"period": FEB, "volume": 1}]
        second = write_project(tmp_path / "b", f"dsn: '{server.dsn}'\nschema: [{schema}, {other}]\n")
        assert [row["volume"] for row in run_json(second, "volume")] == [3, 0, 2]
    finally:
        drop_postgres_schema(server.dsn, other)


# ---------------------------------------------------------------- numbers
def test_kpi_run_gives_the_numbers_worked_out_by_hand(project_at):
    rows = run_json(project_at(), *KPIS, "--from", "2025-01-01", "--to", "2025-03-31")
    assert [tuple(row.values()) for row in rows] == [pytest.approx(expected) for expected in EXPECTED]
    assert list(rows[0]) == ["period", *KPIS]


def test_kpi_run_by_a_dimension(project_at):
    rows = run_json(project_at(), "volume", "--by", "channel")
    assert [(r["period"], r["channel"], r["volume"]) for r in rows] == [
        (JAN, "chat", 1), (JAN, "email", 2), (FEB, "chat", 0), (FEB, "email", 0), (MAR, "chat", 1), (MAR, "email", 1)]


def test_values_and_types_are_those_of_duckdb(tmp_path, engine_source):
    """The same definitions on DuckDB and on PostgreSQL give equal values of equal types."""
    results = {}
    for engine in ("duckdb", "postgres"):
        root = tmp_path / engine
        (root / "definitions").mkdir(parents=True)
        (root / "definitions" / "support.yml").write_text(DEFINITIONS)
        (root / "kpi.yml").write_text("sources:\n" + engine_source(engine, root, TABLES))
        with kpi_engine.load(root) as project:
            results[engine] = [project.query(KPIS).rows, project.query(KPIS, grain="all").rows,
                               project.query(["volume", "revenue"], grain="week", by=["channel"]).rows]
    assert [typed(rows) for rows in results["postgres"]] == [typed(rows) for rows in results["duckdb"]]
    monthly = results["postgres"][0]
    assert [tuple(type(v) for v in row) for row in monthly] == [
        (str, int, float, float, float, float, float),
        (str, int, type(None), type(None), float, type(None), type(None)),  # an empty month's sum is 0.0, as on DuckDB
        (str, int, float, float, float, float, float),
    ]
    assert monthly == [pytest.approx(row) for row in EXPECTED]
    # grain all: 5 tickets, 3 resolved; handle (100+200+300+401)/4 = 250.25; price 10.25+3.10+7.00+1.99 = 22.34
    # round(250.25/60 = 4.17) = 4; p25 of [100, 200, 300, 401]: rank 0.75 -> 100 + 0.75*100 = 175
    assert results["postgres"][1] == [pytest.approx((5, 3 / 5, 250.25, 22.34, 4.0, 175.0))]


@pytest.mark.parametrize("formula, expected", [
    # the binary double is rounded: 2.675 is 2.67499999999999982..., so 2.67
    ("round(2.5)", 3), ("round(-2.5)", -3), ("round(2.675, 2)", 2.67), ("round(1234.5, -1)", 1230),
    ("round(aht / 60)", 4), ("round(-aht / 60, 1)", -4.2), ("round(volume / 2)", 3), ("round(volume * 0.5)", 3),
])
def test_round_is_half_away_from_zero_as_on_duckdb(tmp_path, engine_source, formula, expected):
    """Over all tickets: aht = (100+200+300+401)/4 = 250.25, /60 = 4.17 (-4.2 to one digit); volume = 5, /2 = 2.5."""
    definitions = DEFINITIONS + f"  rounded: {{formula: '{formula}'}}\n"
    values = {}
    for engine in ("duckdb", "postgres"):
        root = tmp_path / engine
        (root / "definitions").mkdir(parents=True)
        (root / "definitions" / "support.yml").write_text(definitions)
        (root / "kpi.yml").write_text("sources:\n" + engine_source(engine, root, TABLES))
        with kpi_engine.load(root) as project:
            ((values[engine],),) = project.query(["rounded"], grain="all").rows
    assert values["postgres"] == pytest.approx(expected)
    assert typed([(values["postgres"],)]) == typed([(values["duckdb"],)])


# ---------------------------------------------------------------- kpi validate
def test_validate_checks_columns_on_the_live_source(project_at):
    result = kpi(project_at(), "validate")
    assert result.exit_code == 0
    assert result.stdout.strip() == "ok: 6 KPIs and 1 dataset; every column found in the source"
    misspelt = DEFINITIONS.replace("aht: {dataset: tickets, formula: avg(handle_seconds)}",
                                   "aht: {dataset: tickets, formula: avg(handle_secs)}")
    result = kpi(project_at(definitions=misspelt), "validate")
    assert result.exit_code == 1 and result.stderr.count("error[") == 1, result.stderr
    assert ("definitions/support.yml:14:40: error[unknown-column]: unknown column 'handle_secs' in dataset "
            "'tickets'; did you mean 'handle_seconds'?") in result.stderr


def test_connection_columns_of_a_table_and_of_a_query(project_at):
    with kpi_engine.load(project_at()) as project:
        connection = project.connection()
        assert connection.columns("tickets") == TICKETS[0]
        assert connection.columns("SELECT id, channel AS c FROM tickets") == ["id", "c"]


# ---------------------------------------------------------------- failures
@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never answers, like a hung server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_one_source_error(result, location: str, message: str, hint: str, secrets: list[str]) -> None:
    """Exit status 3, one error naming the source, its hint; no traceback, no secret."""
    assert result.exit_code == 3, result.output
    assert isinstance(result.exception, SystemExit)  # handled: no traceback
    assert result.stderr.count("error[") == 1, result.stderr
    assert f"source 'default' ({location})" in result.stderr
    assert message in result.stderr, result.stderr
    assert f"= hint: {hint}" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    for secret in secrets:
        assert secret not in result.output


def test_a_server_that_is_down(tmp_path, server):
    port = _free_port()
    root = write_project(tmp_path, f"host: 127.0.0.1\nport: {port}\nuser: {server.user}\n"
                                   f"password: {server.password}\ndbname: {server.dbname}\n")
    assert_one_source_error(kpi(root, "run", "volume"), f"postgres 127.0.0.1:{port}/{server.dbname}",
                            "cannot connect: Connection refused",
                            f"is the PostgreSQL server running and accepting TCP/IP connections at 127.0.0.1:{port}?",
                            [server.password])


def test_validate_reports_a_server_that_is_down_once(tmp_path, server):
    port = _free_port()
    two_datasets = DEFINITIONS.replace("kpis:", "  archive:\n    table: archived_tickets\n    time: created_at\nkpis:")
    root = write_project(tmp_path, f"host: 127.0.0.1\nport: {port}\ndbname: {server.dbname}\n", two_datasets)
    assert_one_source_error(kpi(root, "validate"), f"postgres 127.0.0.1:{port}/{server.dbname}",
                            "cannot connect: Connection refused", "is the PostgreSQL server running", [])


def test_a_server_that_does_not_answer_fails_within_connect_timeout(tmp_path, server, silent_server):
    root = write_project(tmp_path, f"host: 127.0.0.1\nport: {silent_server}\nuser: {server.user}\n"
                                   f"password: {server.password}\ndbname: {server.dbname}\nconnect_timeout: 1s\n")
    started = dt.datetime.now()
    result = kpi(root, "run", "volume")
    assert (dt.datetime.now() - started).total_seconds() < 10  # libpq's smallest timeout is 2 s
    assert_one_source_error(result, f"postgres 127.0.0.1:{silent_server}/{server.dbname}",
                            "cannot connect: connection timeout expired",
                            "the server did not answer within connect_timeout (1s)", [server.password])


def test_a_wrong_password(tmp_path, server):
    root = write_project(tmp_path, f"dsn: '{server.dsn}'\npassword: Wr0ng-Pa55word\n")
    assert_one_source_error(kpi(root, "run", "volume"), server.location(),
                            f'cannot connect: password authentication failed for user "{server.user}"',
                            "check user and password (or the dsn) of this source in kpi.yml",
                            ["Wr0ng-Pa55word", server.password])


def test_an_unknown_database(tmp_path, server):
    root = write_project(tmp_path, f"dsn: '{server.dsn}'\ndbname: no_such_db\n")
    assert_one_source_error(kpi(root, "run", "volume"), server.location("no_such_db"),
                            'cannot connect: database "no_such_db" does not exist',
                            "check dbname: (or the database in the dsn)", [server.password])


def test_an_unknown_schema_suggests_the_nearest(tmp_path, server, schema):
    typo = schema[:-1] + ("x" if schema[-1] != "x" else "y")
    root = write_project(tmp_path, f"dsn: '{server.dsn}'\nschema: {typo}\n")
    assert_one_source_error(kpi(root, "run", "volume"), server.location(),
                            f"schema '{typo}' does not exist; did you mean '{schema}'?",
                            "check schema: of this source in kpi.yml (schemas: ", [server.password])


def test_a_missing_table(tmp_path, server, schema):
    root = write_project(tmp_path, f"dsn: '{server.dsn}'\n")  # no schema: the tickets are not on the search_path
    result = kpi(root, "run", "volume")
    assert_one_source_error(result, server.location(), 'failed: relation "tickets" does not exist',
                            "check the dataset's table: (schema-qualified if needed) and schema: of this source",
                            [server.password])
    assert "definitions/support.yml:4:12: error[source]: dataset 'tickets' cannot be read" in result.stderr


def test_a_statement_timeout(project_at, server):
    slow = DEFINITIONS.replace("table: tickets", "sql: SELECT t.*, pg_sleep(1) AS pause FROM tickets AS t")
    root = project_at("statement_timeout: 200ms\n", slow)
    started = dt.datetime.now()
    result = kpi(root, "run", "volume")
    assert (dt.datetime.now() - started).total_seconds() < 4  # cancelled, not 5 rows x 1 s
    assert_one_source_error(result, server.location(), "failed: canceling statement due to statement timeout",
                            "the query ran longer than statement_timeout (200ms): raise statement_timeout: of "
                            "this source in kpi.yml", [server.password])


def test_a_user_without_select_grant(tmp_path, server, schema):
    role, password = f"kpi_reader_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex[:8]}"
    admin(server, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'", f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
    try:
        root = write_project(tmp_path, f"dsn: '{server.dsn}'\nuser: {role}\npassword: {password}\nschema: {schema}\n")
        assert_one_source_error(kpi(root, "run", "volume"), server.location(),
                                "permission denied for table tickets",
                                "the user needs SELECT on the tables (and USAGE on their schema)", [password])
    finally:
        admin(server, f'REVOKE ALL ON SCHEMA "{schema}" FROM {role}', f"DROP ROLE {role}")


def test_a_failure_in_a_new_process_prints_no_traceback(tmp_path, server):
    port = _free_port()
    root = write_project(tmp_path, f"dsn: 'postgresql://{server.user}:{server.password}@127.0.0.1:{port}/db1'\n")
    done = subprocess.run([sys.executable, "-m", "kpi_engine", "--project", str(root), "run", "volume"],
                          capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert done.returncode == 3
    assert done.stderr.startswith(f"error[source]: source 'default' (postgres 127.0.0.1:{port}/db1) cannot connect: "
                                  "Connection refused\n  = hint: ")
    assert "Traceback" not in done.stderr and server.password not in done.stderr + done.stdout


def test_a_dropped_session_is_reopened_for_the_next_query(project_at, server):
    with kpi_engine.load(project_at()) as project:
        connection = project.connection()
        ((pid,),) = connection.execute("SELECT pg_backend_pid()")[1]
        admin(server, f"SELECT pg_terminate_backend({pid})")
        with pytest.raises(kpi_engine.SourceError, match=r"source 'default' \(postgres .*\) failed: "):
            connection.execute("SELECT 1")
        ((new_pid,),) = connection.execute("SELECT pg_backend_pid()")[1]
        assert new_pid != pid
        assert project.query(["volume"]).rows == [(JAN, 3), (FEB, 0), (MAR, 2)]


def test_close_ends_the_server_sessions(project_at, server):
    project = kpi_engine.load(project_at())
    ((pid, application),) = project.connection().execute(
        "SELECT pid, application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")[1]
    assert application == "kpi_engine"
    project.close()
    assert admin(server, f"SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}") == [(0,)]


# ---------------------------------------------------------------- running KPIs never writes
def _fingerprint(server: Server, schema: str) -> list[tuple]:
    return admin(server, f'SELECT count(*), sum(id), sum(handle_seconds), string_agg(status, \',\' ORDER BY id) '
                         f'FROM "{schema}".tickets')


UNTOUCHED = [(5, 15, 1001, "resolved,open,resolved,resolved,open")]  # ids 1..5; 100+200+300+401


@pytest.mark.parametrize("sql", [
    "DELETE FROM tickets RETURNING *",
    "WITH gone AS (DELETE FROM tickets RETURNING *) SELECT * FROM gone",
    "SELECT * FROM tickets; DELETE FROM tickets",
])
def test_a_dataset_sql_that_writes_is_refused_before_it_runs(project_at, server, schema, sql):
    root = project_at(definitions=DEFINITIONS.replace("table: tickets", f'sql: "{sql}"'))
    result = kpi(root, "run", "volume")
    assert result.exit_code == 1
    assert "definitions/support.yml:4:" in result.stderr and "sql must be" in result.stderr
    assert _fingerprint(server, schema) == UNTOUCHED


def test_a_writing_query_that_slips_past_is_refused_by_the_session(project_at, server, schema):
    admin(server, f'CREATE SEQUENCE "{schema}".ticket_seq',
          f'CREATE FUNCTION "{schema}".purge() RETURNS bigint LANGUAGE sql '
          f'AS $$ DELETE FROM "{schema}".tickets RETURNING id $$')
    for select in ("SELECT t.*, nextval('ticket_seq') AS n FROM tickets AS t",
                   "SELECT t.*, purge() AS gone FROM tickets AS t"):
        root = project_at(definitions=DEFINITIONS.replace("table: tickets", f'sql: "{select}"'))
        result = kpi(root, "run", "volume")
        assert_one_source_error(result, server.location(), "in a read-only transaction",
                                "kpi_engine only reads: every session is read-only", [server.password])
    assert admin(server, f'SELECT last_value, is_called FROM "{schema}".ticket_seq') == [(1, False)]
    assert _fingerprint(server, schema) == UNTOUCHED


@pytest.mark.parametrize("statements", [
    ["DELETE FROM tickets"],
    ["UPDATE tickets SET status = 'gone'"],
    ["INSERT INTO tickets (id) VALUES (6)"],
    ["TRUNCATE tickets"],
    ["CREATE TABLE notes (body text)"],
    ["COMMIT; DELETE FROM tickets"],
    ["SET TRANSACTION READ WRITE", "DELETE FROM tickets"],
    ["SELECT set_config('default_transaction_read_only', 'off', false)", "DELETE FROM tickets"],
    ["SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "DELETE FROM tickets"],
    ["ROLLBACK", "DELETE FROM tickets"],
])
def test_a_connection_never_writes(project_at, server, schema, statements):
    with kpi_engine.load(project_at()) as project:
        connection = project.connection()
        *before, last = statements
        for statement in before:  # attempts to leave read-only mode: allowed or not, they change nothing
            try:
                connection.execute(statement)
            except kpi_engine.SourceError:
                pass
        with pytest.raises(kpi_engine.SourceError) as raised:
            connection.execute(last)
        assert raised.value.message.startswith(f"source 'default' ({server.location()}) failed: ")
        assert ("read-only transaction" in raised.value.message
                or "cannot insert multiple commands" in raised.value.message)
        assert connection.execute("SELECT count(*) AS n FROM tickets") == (["n"], [(5,)])
    assert _fingerprint(server, schema) == UNTOUCHED


def test_without_pipeline_support_one_execute_is_still_one_statement(project_at, server, schema, monkeypatch):
    monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    with kpi_engine.load(project_at()) as project:
        connection = project.connection()
        with pytest.raises(kpi_engine.SourceError, match="cannot insert multiple commands"):
            connection.execute("COMMIT; DELETE FROM tickets")
        with pytest.raises(kpi_engine.SourceError, match="read-only transaction"):
            connection.execute("DELETE FROM tickets")
        assert project.query(["volume"]).rows == [(JAN, 3), (FEB, 0), (MAR, 2)]
    assert _fingerprint(server, schema) == UNTOUCHED


# ---------------------------------------------------------------- parameters and threads
def test_bound_parameters_use_psycopg_placeholders(project_at):
    with kpi_engine.load(project_at()) as project:
        connection = project.connection()
        assert isinstance(connection, PostgresConnection)
        # email tickets: ids 1, 3, 5
        assert connection.execute("SELECT count(*) AS n FROM tickets WHERE channel = %s", ["email"]) == (["n"], [(3,)])
        assert connection.execute("SELECT count(*) AS n FROM tickets WHERE channel = %(c)s AND id > %(i)s",
                                  {"c": "email", "i": 1}) == (["n"], [(2,)])
        # without parameters a % is plain text: channels starting with e
        assert connection.execute("SELECT count(*) AS n FROM tickets WHERE channel LIKE 'e%'") == (["n"], [(3,)])
        # values come back normalised: dates as ISO text, decimals as int or float
        assert connection.execute("SELECT created_at, price, id::numeric AS i FROM tickets WHERE id = %s", [1]) == (
            ["created_at", "price", "i"], [("2025-01-03T09:00:00", 10.25, 1)])


def test_threads_share_a_project(project_at):
    with kpi_engine.load(project_at()) as project:
        results: list = []
        pids: set[int] = set()
        lock = threading.Lock()

        def work() -> None:
            for _ in range(5):
                rows = project.query(["volume", "revenue"]).rows
                with lock:
                    results.append(rows)
            ((pid,),) = project.connection().execute("SELECT pg_backend_pid()")[1]
            with lock:
                pids.add(pid)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 20
        assert all(rows == [(JAN, 3, 13.35), (FEB, 0, 0.0), (MAR, 2, 8.99)] for rows in results)
        assert len(pids) == 4  # one session per thread


# ---------------------------------------------------------------- time limits
#: 10^6 x 10^6 rows (PostgreSQL reads some 10^7 a second: more than a day), 28 days of January 2025.
ENDLESS = DEFINITIONS.replace("kpis:", """  endless:
    sql: "SELECT TIMESTAMP '2025-01-01' + (a.x % 28) * INTERVAL '1 day' AS created_at
      FROM generate_series(1, 1000000) AS a(x) CROSS JOIN generate_series(1, 1000000) AS b(y)"
    time: created_at
kpis:
  endless_volume: {dataset: endless, formula: count()}""")


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds a server process has used, when the server runs on this machine (else None)."""
    try:
        if b"postgres" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_endless(project: kpi_engine.Project, timeout: float) -> tuple[kpi_engine.QueryTimeoutError, float]:
    started = time.monotonic()
    with pytest.raises(kpi_engine.QueryTimeoutError) as caught:
        project.query(["endless_volume"], start=JAN, end="2025-01-31", timeout=timeout)
    return caught.value, time.monotonic() - started


def test_a_query_past_its_limit_is_cancelled_on_the_server(project_at, server):
    with kpi_engine.load(project_at("", ENDLESS)) as project:
        connection = project.connection()
        ((pid,),) = connection.execute("SELECT pg_backend_pid()")[1]
        error, seconds = _run_endless(project, timeout=1)
        assert 1 <= seconds < 4
        assert (error.code, error.exit_code) == ("timeout", 3)
        assert error.message == "the query ran longer than 1 s and was cancelled"
        assert "failed: canceling statement due to user request" in error.__cause__.message
        # nothing of the session runs: neither the statement nor a parallel worker of it
        assert admin(server, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                             f"AND (pid = {pid} OR leader_pid = {pid})") == [(0,)]
        before = _backend_cpu(pid)
        if before is not None:  # the server runs here: its process for the session stays idle
            time.sleep(2)
            assert _backend_cpu(pid) - before < 0.1
        assert project.connection() is connection
        assert connection.execute("SELECT pg_backend_pid()")[1] == [(pid,)]  # the same session, reused
        assert project.query(["volume"]).rows == [(JAN, 3), (FEB, 0), (MAR, 2)]


def test_the_sources_statement_timeout_and_a_query_limit_work_together(project_at, server):
    with kpi_engine.load(project_at("statement_timeout: 30s\n", ENDLESS)) as project:
        error, seconds = _run_endless(project, timeout=1)  # the query's limit comes first
        assert error.message == "the query ran longer than 1 s and was cancelled" and seconds < 4
    with kpi_engine.load(project_at("statement_timeout: 500ms\n", ENDLESS)) as project:
        with pytest.raises(kpi_engine.SourceError) as caught:  # the source's comes first: as without a limit
            project.query(["endless_volume"], start=JAN, end="2025-01-31", timeout=30)
        assert caught.value.message.endswith("failed: canceling statement due to statement timeout")
        assert caught.value.hint.startswith("the query ran longer than statement_timeout (500ms)")


def test_an_interrupt_between_statements_stops_nothing(project_at):
    with kpi_engine.load(project_at()) as project:
        connection = project.connection()
        threads = threading.active_count()
        for _ in range(20):  # the server drops a cancel request that finds no statement running
            assert connection.interrupt() is True
            assert project.query(["volume"], timeout=30).rows == [(JAN, 3), (FEB, 0), (MAR, 2)]
        assert threading.active_count() == threads  # a query within its limit leaves no thread behind
        connection.close()
        assert connection.interrupt() is False  # no session: nothing to cancel
