"""``kpi mcp``: the project served over the Model Context Protocol, driven by the real ``mcp`` stdio
client (``ClientSession`` + ``stdio_client``) against ``python -m kpi_engine --project DIR mcp``.

Every number is counted by hand from these rows (no period is in progress: they are all of 2025):

    tickets (time created_at)                           customers (time signup_at)
    id  created_at        channel  status  handle_s     id  signup_at   region
    1   2025-01-02 10:00  email    solved  300          1   2025-01-10  EU
    2   2025-01-20 09:00  email    open    120          2   2025-03-01  US
    3   2025-01-31 23:00  chat     solved   60
    4   2025-03-05 08:00  email    open    245
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest
from click.testing import CliRunner
from mcp import ClientSession, StdioServerParameters, stdio_client

from support.engines import write_tables
from kpi_engine.cli import main
from kpi_engine.mcp import sdk_problem
from kpi_engine.mcp.server import DEFAULT_MAX_ROWS

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
  customers:
    table: customers
    time: signup_at
    dimensions:
      region: region
kpis:
  volume:
    title: Ticket volume
    description: Tickets opened in the period.
    dataset: tickets
    formula: count()
    format: integer
    owner: support-team
    tags: [support]
  solved_share:
    dataset: tickets
    formula: "count(where status = 'solved') / count()"
    format: percent
    target: 0.6
    warning: 0.4
  handle_time:
    dataset: tickets
    formula: avg(handle_s)
    format: duration
    direction: lower
  signups:
    dataset: customers
    formula: count()
  per_signup:
    formula: volume / signups
  helper:
    dataset: tickets
    formula: count()
    hidden: true
"""
D, T = dt.date, dt.datetime
TABLES = {
    "tickets": (["id", "created_at", "channel", "status", "handle_s"], [
        (1, T(2025, 1, 2, 10), "email", "solved", 300), (2, T(2025, 1, 20, 9), "email", "open", 120),
        (3, T(2025, 1, 31, 23), "chat", "solved", 60), (4, T(2025, 3, 5, 8), "email", "open", 245)]),
    "customers": (["id", "signup_at", "region"], [(1, D(2025, 1, 10), "EU"), (2, D(2025, 3, 1), "US")]),
}


def write_project(root: Path, definitions: str = DEFINITIONS, kpi_yml: str = "") -> Path:
    (root / "definitions").mkdir(parents=True)
    (root / "kpi.yml").write_text("name: mcp_test\nsources:\n  default:\n    connector: duckdb\n"
                                  "    database: data.duckdb\n" + kpi_yml)
    (root / "definitions" / "support.yml").write_text(textwrap.dedent(definitions))
    write_tables("duckdb", root / "data.duckdb", TABLES)
    return root


@asynccontextmanager
async def connect(project: Path, *args: str, errlog: Any = sys.stderr) -> AsyncIterator[ClientSession]:
    """A client session with ``kpi mcp`` started as an MCP client starts it: a subprocess on stdio."""
    server = StdioServerParameters(command=sys.executable,
                                   args=["-m", "kpi_engine", "--project", str(project), "mcp", *args],
                                   env={"KPI_ENGINE_NO_CACHE": "1"})
    async with stdio_client(server, errlog=errlog) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


class Client:
    """A session held open in a background event loop, called from plain (synchronous) tests."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, session: ClientSession) -> None:
        self.portal, self.session = portal, session

    def call(self, tool: str, **arguments: Any) -> Any:
        """The tool's answer (its structured content); an error result fails the test."""
        result = self.portal.call(self.session.call_tool, tool, arguments)
        assert not result.is_error, result.content[0].text
        assert json.loads(result.content[0].text) == result.structured_content  # the text is the same JSON
        return result.structured_content

    def error(self, tool: str, **arguments: Any) -> str:
        """The message of a call that must fail as a tool error (``isError``)."""
        result = self.portal.call(self.session.call_tool, tool, arguments)
        assert result.is_error, result.structured_content
        assert len(result.content) == 1 and result.structured_content is None
        return result.content[0].text


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("mcp") / "project")


@pytest.fixture(scope="module")
def client(project_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One server for the module's read-only tests; at the end, its stderr holds no traceback."""
    log = tmp_path_factory.mktemp("log") / "stderr.txt"
    with open(log, "w") as errlog, anyio.from_thread.start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(connect(project_dir, errlog=errlog)) as session:
            yield Client(portal, session)
    text = log.read_text()
    assert "Traceback" not in text, text
    assert text.startswith("kpi mcp: serving mcp_test (6 KPIs, "), text


def with_session(project: Path, body: Any, *args: str, errlog: Any = sys.stderr) -> Any:
    """Run ``await body(session)`` against a server of its own (for tests that change the project)."""
    async def run() -> Any:
        async with connect(project, *args, errlog=errlog) as session:
            return await body(session)

    return anyio.run(run)


# ============================================================================ the tools
def test_the_server_lists_its_five_tools_each_read_only_and_described(client):
    tools = {tool.name: tool for tool in client.portal.call(client.session.list_tools).tools}
    assert sorted(tools) == ["compile", "describe_kpi", "list_dimensions", "list_kpis", "query"]
    for tool in tools.values():
        assert tool.annotations.read_only_hint is True and tool.annotations.destructive_hint is False
        assert len(tool.description) > 80, tool.name  # says when to use it, not just its name
    query = tools["query"].input_schema
    assert query["required"] == ["kpis"]
    assert set(query["properties"]) == {"kpis", "grain", "by", "where", "start", "end", "timezone", "status"}
    assert "fiscal_quarter" in query["properties"]["grain"]["description"]  # every grain is named
    assert "YYYY-MM-DD" in query["properties"]["start"]["description"]
    assert "dimension" in query["properties"]["where"]["description"]
    assert set(tools["compile"].input_schema["properties"]) == {"kpis", "dialect", "grain", "by", "where", "start",
                                                                 "end", "timezone"}


def test_list_kpis_leaves_hidden_ones_out_unless_asked(client):
    kpis = client.call("list_kpis")["kpis"]
    assert [k["name"] for k in kpis] == ["volume", "solved_share", "handle_time", "signups", "per_signup"]
    assert kpis[0] == {"name": "volume", "title": "Ticket volume", "description": "Tickets opened in the period.",
                       "format": "integer", "unit": None, "direction": "higher", "target": None,
                       "tags": ["support"]}
    assert (kpis[1]["title"], kpis[1]["format"], kpis[1]["target"]) == ("Solved share", "percent", 0.6)
    every = client.call("list_kpis", include_hidden=True)["kpis"]
    assert [(k["name"], k["hidden"]) for k in every][-2:] == [("per_signup", False), ("helper", True)]


def test_list_dimensions_and_the_kpis_each_applies_to(client):
    # per_signup reads both datasets, and no dimension is defined on both
    assert client.call("list_dimensions") == {"dimensions": [
        {"name": "channel", "datasets": ["tickets"], "kpis": ["volume", "solved_share", "handle_time", "helper"]},
        {"name": "region", "datasets": ["customers"], "kpis": ["signups"]},
    ]}
    assert client.call("list_dimensions", kpis=["signups"]) == {"dimensions": [
        {"name": "region", "datasets": ["customers"], "kpis": ["signups"]}]}


def test_describe_kpi(client):
    volume = client.call("describe_kpi", name="volume")
    assert volume == {"name": "volume", "title": "Ticket volume", "description": "Tickets opened in the period.",
                      "format": "integer", "unit": None, "decimals": None, "direction": "higher", "target": None,
                      "warning": None, "owner": "support-team", "tags": ["support"], "hidden": False,
                      "dataset": "tickets", "dimensions": ["channel"], "formula": "count()", "filter": None,
                      "uses": []}
    derived = client.call("describe_kpi", name="per_signup")
    assert (derived["formula"], derived["uses"], derived["dimensions"], derived["dataset"]) == (
        "volume / signups", ["volume", "signups"], [], None)


def test_query_gives_the_http_body_and_the_values_as_kpi_run_shows_them(client):
    body = client.call("query", kpis=["volume", "solved_share", "handle_time"], status=True)
    # January: 3 tickets, 2 solved (2/3 >= 0.6: ok), handle (300 + 120 + 60) / 3 = 160 s;
    # February: none (0, null, null); March: 1 ticket, open (0 < 0.4: bad), 245 s
    assert body["columns"] == ["period", "volume", "solved_share", "solved_share__status", "handle_time"]
    assert body["rows"] == [
        {"period": "2025-01-01", "volume": 3, "solved_share": 2 / 3, "solved_share__status": "ok",
         "handle_time": 160.0},
        {"period": "2025-02-01", "volume": 0, "solved_share": None, "solved_share__status": None,
         "handle_time": None},
        {"period": "2025-03-01", "volume": 1, "solved_share": 0.0, "solved_share__status": "bad",
         "handle_time": 245.0},
    ]
    assert body["formatted"] == [
        {"period": "2025-01-01", "volume": "3", "solved_share": "66.7%", "solved_share__status": "ok",
         "handle_time": "2m 40s"},
        {"period": "2025-02-01", "volume": "0", "solved_share": "-", "solved_share__status": "-",
         "handle_time": "-"},
        {"period": "2025-03-01", "volume": "1", "solved_share": "0.0%", "solved_share__status": "bad",
         "handle_time": "4m 05s"},
    ]
    assert body["meta"] == {
        "kpis": {
            "volume": {"title": "Ticket volume", "format": "integer", "unit": None, "decimals": None,
                       "direction": "higher", "target": None, "warning": None},
            "solved_share": {"title": "Solved share", "format": "percent", "unit": None, "decimals": None,
                             "direction": "higher", "target": 0.6, "warning": 0.4},
            "handle_time": {"title": "Handle time", "format": "duration", "unit": None, "decimals": None,
                            "direction": "lower", "target": None, "warning": None},
        },
        "partial_periods": [],
        "cached": False,
    }


def test_query_by_where_grain_and_range(client):
    # all of it by channel: chat 1 ticket (solved), email 3 (1 solved)
    body = client.call("query", kpis=["volume", "solved_share"], grain="all", by=["channel"])
    assert body["columns"] == ["channel", "volume", "solved_share"]
    assert body["rows"] == [{"channel": "chat", "volume": 1, "solved_share": 1.0},
                            {"channel": "email", "volume": 3, "solved_share": 1 / 3}]
    assert [row["solved_share"] for row in body["formatted"]] == ["100.0%", "33.3%"]
    # email in the first quarter: tickets 1, 2 and 4, one solved
    body = client.call("query", kpis=["volume", "solved_share"], grain="quarter", where="channel = 'email'",
                       start="2025-01-01", end="2025-03-31")
    assert body["rows"] == [{"period": "2025-01-01", "volume": 3, "solved_share": 1 / 3}]
    # a range that meets February only reports all of February: no rows, so 0
    body = client.call("query", kpis=["volume"], start="2025-02-10", end="2025-02-10")
    assert body["rows"] == [{"period": "2025-02-01", "volume": 0}]
    # KPIs of two datasets: 3 tickets / 1 signup in January, 0 / 0 (null) in February, 1 / 1 in March
    body = client.call("query", kpis=["per_signup"])
    assert [row["per_signup"] for row in body["rows"]] == [3.0, None, 1.0]


def test_the_period_in_progress_is_in_meta(client):
    today = dt.datetime.now(dt.timezone.utc).date()
    body = client.call("query", kpis=["volume"], start="2025-03-01", end=today.isoformat())
    this_month = today.replace(day=1).isoformat()
    assert body["rows"][-1] == {"period": this_month, "volume": 0}
    assert body["meta"]["partial_periods"] == [this_month]


def test_a_query_in_another_time_zone(client):
    # ticket 3, 2025-01-31 23:00 UTC, is 2025-02-01 08:00 in Tokyo (UTC+9): January 3 -> 2, February 0 -> 1
    utc = client.call("query", kpis=["volume"], end="2025-03-31")["rows"]
    tokyo = client.call("query", kpis=["volume"], end="2025-03-31", timezone="Asia/Tokyo")["rows"]
    assert [row["volume"] for row in utc] == [3, 0, 1]
    assert [row["volume"] for row in tokyo] == [2, 1, 1]
    assert client.call("compile", kpis=["volume"], timezone="Asia/Tokyo")["sql"] != client.call(
        "compile", kpis=["volume"])["sql"]


def test_compile_gives_the_sql(client):
    sql = client.call("compile", kpis=["solved_share"], grain="quarter", dialect="snowflake")["sql"]
    assert sql.lstrip().upper().startswith(("WITH", "SELECT")) and "tickets" in sql
    duckdb_sql = client.call("compile", kpis=["solved_share"], grain="quarter")["sql"]
    assert duckdb_sql != sql  # the source's own dialect by default
    assert client.call("compile", kpis=["solved_share"], dialect="duckdb", grain="quarter")["sql"] == duckdb_sql


# =========================================================================== the errors
@pytest.mark.parametrize("tool, arguments, message", [
    ("query", {"kpis": ["volum"]}, "error[unknown-kpi]: unknown KPI 'volum'; did you mean 'volume'?"),
    ("describe_kpi", {"name": "solved_shares"},
     "error[unknown-kpi]: unknown KPI 'solved_shares'; did you mean 'solved_share'?"),
    ("list_dimensions", {"kpis": ["signup"]}, "unknown KPI 'signup'; did you mean 'signups'?"),
    ("query", {"kpis": ["volume"], "grain": "monthly"}, "error[bad-grain]: unknown grain 'monthly'; did you mean "
                                                        "'month'?"),
    ("query", {"kpis": ["volume"], "start": "2025-02-30"},
     "error[bad-date]: start '2025-02-30' is not a date; write it as YYYY-MM-DD"),
    ("query", {"kpis": ["volume"], "end": "31/12/2025"}, "end '31/12/2025' is not a date; write it as YYYY-MM-DD"),
    ("query", {"kpis": ["volume"], "start": "2025-03-01", "end": "2025-01-01"},
     "error[bad-range]: start 2025-03-01 is after end 2025-01-01"),
    ("query", {"kpis": ["volume"], "by": ["chanel"]}, "did you mean 'channel'?"),
    ("query", {"kpis": ["volume"], "where": "chanel = 'email'"},
     "--where:1:1: error[unknown-dimension]: unknown dimension 'chanel' on dataset 'tickets'; did you mean "
     "'channel'?\n  |\n1 | chanel = 'email'\n  | ^^^^^^"),
    ("query", {"kpis": ["per_signup"], "by": ["channel"]}, "channel"),
    ("compile", {"kpis": ["volume"], "dialect": "snowflak"}, "did you mean 'snowflake'?"),
    ("query", {"kpis": ["volume"], "timezone": "America/Sao_Paul"}, "error[bad-timezone]: timezone: unknown time "
                                                                    "zone 'America/Sao_Paul'; did you mean "
                                                                    "'America/Sao_Paulo'?"),
    ("compile", {"kpis": ["volume"], "timezone": "Mars/Olympus"}, "error[bad-timezone]: timezone: unknown time zone "
                                                                  "'Mars/Olympus'"),
    ("query", {"kpis": []}, "kpis"),  # the input schema's own check (at least one KPI)
])
def test_an_error_is_a_tool_error_with_the_commands_message(client, tool, arguments, message):
    text = client.error(tool, **arguments)
    assert message in text
    assert "Traceback" not in text


def test_a_result_over_max_rows_asks_to_narrow_the_query(project_dir):
    async def body(session: ClientSession) -> tuple[Any, Any]:
        return (await session.call_tool("query", {"kpis": ["volume"]}),
                await session.call_tool("query", {"kpis": ["volume"], "grain": "quarter"}))

    too_many, fine = with_session(project_dir, body, "--max-rows", "2")
    # three months (January to March) is one row too many; one quarter is not
    assert too_many.is_error
    assert "error[too-many-rows]: the query returns 3 rows, more than the 2 this server answers with; narrow it" \
        in too_many.content[0].text
    assert fine.structured_content["rows"] == [{"period": "2025-01-01", "volume": 4}]


def test_the_project_is_read_again_when_its_files_change(tmp_path):
    root = write_project(tmp_path / "project")
    definitions = root / "definitions" / "support.yml"

    async def body(session: ClientSession) -> list[Any]:
        answers = [await session.call_tool("list_kpis", {})]
        definitions.write_text(definitions.read_text() + "  chats:\n    dataset: tickets\n"
                               "    formula: \"count(where channel = 'chat')\"\n")
        answers.append(await session.call_tool("query", {"kpis": ["chats"], "grain": "all"}))
        definitions.write_text(definitions.read_text().replace("volume / signups", "volume / signupz"))
        answers.append(await session.call_tool("list_kpis", {}))
        (root / "definitions" / "more.yml").write_text("kpis:\n  calls:\n    dataset: tickets\n    formula: count()\n")
        definitions.write_text(definitions.read_text().replace("volume / signupz", "volume / signups"))
        answers.append(await session.call_tool("list_kpis", {}))
        return answers

    first, chats, broken, fixed = with_session(root, body)
    assert len(first.structured_content["kpis"]) == 5
    assert chats.structured_content["rows"] == [{"chats": 1}]  # ticket 3
    # a broken edit is every tool's answer, with its place in the file, until it is fixed
    assert broken.is_error
    assert "definitions/support.yml:37:23: " in broken.content[0].text
    assert "did you mean 'signups'?" in broken.content[0].text
    # a new file is read too (files in name order: more.yml before support.yml)
    assert [k["name"] for k in fixed.structured_content["kpis"]] == [
        "calls", "volume", "solved_share", "handle_time", "signups", "per_signup", "chats"]


def test_the_project_is_loaded_once_until_a_file_changes(tmp_path):
    import os

    from kpi_engine.live import LiveProject

    root = write_project(tmp_path / "project")
    live = LiveProject(root)
    first = live.current()
    assert live.current() is first  # nothing changed: the same project, and the SQL it compiled
    definitions = root / "definitions" / "support.yml"
    before = definitions.stat()
    definitions.write_text(definitions.read_text().replace("avg(handle_s)", "sum(handle_s)"))  # the same size
    os.utime(definitions, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    second = live.current()
    assert second is not first and second.describe("handle_time")["formula"] == "sum(handle_s)"


def test_a_project_that_does_not_load_answers_every_call_with_its_error(tmp_path):
    root = write_project(tmp_path / "project", DEFINITIONS.replace("formula: volume / signups",
                                                                   "formula: volume / signupz"))
    log = tmp_path / "stderr.txt"

    async def body(session: ClientSession) -> Any:
        return await session.call_tool("list_kpis", {})

    with open(log, "w") as errlog:
        result = with_session(root, body, errlog=errlog)
    assert result.is_error
    message = result.content[0].text
    # line 37 of the file (the dedented text starts with an empty line), the name at column 23
    assert "definitions/support.yml:37:23: " in message and "did you mean 'signups'?" in message
    assert "does not load" in log.read_text() and "Traceback" not in log.read_text()


# ================================================================== stdout is the channel
PLUGIN = """
import os
import sys

print("a plugin printing as it is imported")
os.write(1, b"a plugin writing to file descriptor 1\\n")
sys.stdout.flush()
"""


def test_nothing_but_the_protocol_reaches_stdout(tmp_path):
    """A raw client, as Claude Desktop speaks it: JSON-RPC lines in, and every line out is JSON-RPC,
    even with a plugin that prints (to sys.stdout and to file descriptor 1) while the project loads."""
    root = write_project(tmp_path / "project", kpi_yml="plugins: [noisy.py]\n")
    (root / "noisy.py").write_text(PLUGIN)
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "query", "arguments": {"kpis": ["volume"], "grain": "year"}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "query", "arguments": {"kpis": ["x"]}}},
    ]
    answers: dict[int, dict] = {}
    with subprocess.Popen([sys.executable, "-m", "kpi_engine", "--project", str(root), "mcp"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            for request in requests:  # one at a time: a server may answer a request before reading the next
                process.stdin.write(json.dumps(request) + "\n")
                process.stdin.flush()
                while "id" in request and request["id"] not in answers:
                    line = process.stdout.readline()
                    assert line, process.stderr.read()
                    message = json.loads(line)  # every line is JSON...
                    assert message["jsonrpc"] == "2.0"  # ...and JSON-RPC
                    if "id" in message:
                        answers[message["id"]] = message
            process.stdin.close()
            rest = process.stdout.read()
            assert process.wait(timeout=30) == 0  # the client closing stdin ends the server
            stderr = process.stderr.read()
        finally:
            process.kill()
    assert rest == ""
    assert answers[3]["result"]["structuredContent"]["rows"] == [{"period": "2025-01-01", "volume": 4}]
    assert answers[4]["result"]["isError"] is True
    assert "unknown KPI 'x'" in answers[4]["result"]["content"][0]["text"]
    assert "a plugin printing as it is imported" in stderr and "a plugin writing to file descriptor 1" in stderr
    assert "Traceback" not in stderr


# =============================================================== the command and its extra
def test_a_missing_mcp_package_is_one_line_and_exit_2(project_dir, monkeypatch):
    from importlib import metadata

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setitem(sys.modules, "mcp", None)  # `import mcp` fails, as when it is not installed
    monkeypatch.setattr(metadata, "version", not_installed)
    result = CliRunner().invoke(main, ["--project", str(project_dir), "mcp"])
    assert result.exit_code == 2
    assert result.output == ("error[missing-extra]: kpi mcp needs the 'mcp' package (it is not installed): "
                             "pip install 'kpi-engine[mcp]'\n")
    monkeypatch.setattr(metadata, "version", lambda name: "1.27.0")
    assert sdk_problem() == ("error[missing-extra]: kpi mcp needs the 'mcp' package (mcp 1.27.0 is installed; "
                             "2.0 or newer is needed): pip install 'kpi-engine[mcp]'")


def test_the_command_is_documented_in_its_help():
    result = CliRunner().invoke(main, ["mcp", "--help"])
    assert result.exit_code == 0
    assert "Model Context Protocol" in result.output
    option = next(p for p in main.get_command(None, "mcp").params if p.name == "max_rows")
    assert option.default == DEFAULT_MAX_ROWS  # the command and the server agree
    assert "mcp" in CliRunner().invoke(main, ["--help"]).output
