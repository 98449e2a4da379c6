"""kpi-engine-example: the csv_folder connector, installed, on help-desk exports written here.

Every expected number below is worked out by hand from the rows in TICKETS and
AGENTS (the comments show the arithmetic), never copied from the engine. The
same rows are written as three kinds of export (one file; monthly files joined
by a glob; a European export with ';', decimal commas, latin-1 and dd/mm/yyyy
dates), which must all give those numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
import textwrap
import threading
import zoneinfo
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import kpi_engine
from kpi_engine.plugins import PluginRegistry, get_plugin_manager

kpi_engine_example = pytest.importorskip(
    "kpi_engine_example", reason="kpi-engine-example is not installed (pip install -e ./plugins/example)")

from kpi_engine_example import CsvFolderConnector  # noqa: E402
from kpi_engine_example import reading  # noqa: E402
from kpi_engine_example.columns import Parsing, column_name, type_column  # noqa: E402

UTC = dt.timezone.utc
MINUS_3 = dt.timezone(dt.timedelta(hours=-3))

TICKET_HEADER = ["Ticket ID", "Created At", "Channel", "Status", "Contacts", "Handle Seconds", "Is Spam",
                 "Agent ID", "Satisfaction"]
# Ticket 1 is written in UTC ('Z'); ticket 4 with a -03:00 offset: 23:30 on 31 January there is
# 02:30 UTC on 1 February, so with the default timezone (UTC) it belongs to February.
TICKETS = [
    (1, dt.datetime(2025, 1, 5, 9, 0, tzinfo=UTC), "email", "solved", 1, 300, False, 10, 5),
    (2, dt.datetime(2025, 1, 12, 14, 30), "chat", "solved", 2, 600, False, 11, 4),
    (3, dt.datetime(2025, 1, 20, 8, 0), "chat", "open", 1, None, False, 10, None),
    (4, dt.datetime(2025, 1, 31, 23, 30, tzinfo=MINUS_3), "email", "solved", 1, 200, False, 11, 3),
    (5, dt.datetime(2025, 1, 25, 10, 0), "email", "solved", 1, 900, True, 10, 1),  # spam: never counted
    (6, dt.datetime(2025, 2, 3, 9, 15), "phone", "solved", 1, 450.5, False, 12, 5),
    (7, dt.datetime(2025, 2, 14, 16, 0), "chat", "solved", 3, 1200, False, 11, 2),
    (8, dt.datetime(2025, 2, 27, 11, 0), "phone", "open", 2, None, False, 12, None),
]
AGENT_HEADER = ["Agent ID", "Name", "Team"]
AGENTS = [(10, "Ana", "billing"), (11, "João", "tech"), (12, "Zoë", "tech")]

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    key: ticket_id
    dimensions:
      channel: channel
      team: agent.team
    joins:
      agent:
        dataset: agents
        on: agent_id
  agents:
    table: agents
    key: agent_id

kpis:
  ticket_volume:
    dataset: tickets
    formula: count()
    filter: not is_spam
  average_handle_time:
    dataset: tickets
    formula: avg(handle_seconds where status = 'solved')
    filter: not is_spam
  first_contact_resolution:
    dataset: tickets
    formula: count(where status = 'solved' and contacts = 1) / count(where status = 'solved')
    filter: not is_spam
  csat:
    dataset: tickets
    formula: count(where satisfaction >= 4) / count(satisfaction)
    filter: not is_spam
"""
KPIS = ["ticket_volume", "average_handle_time", "first_contact_resolution", "csat"]

# By month, spam (ticket 5) left out:
#   January:  tickets 1, 2, 3                    -> volume 3
#             solved 1 (300 s, 1 contact), 2 (600 s, 2 contacts)
#                                                -> handle time (300 + 600) / 2 = 450; FCR 1/2
#             satisfaction 5, 4 (3 has none)     -> csat 2/2
#   February: tickets 4, 6, 7, 8                 -> volume 4
#             solved 4 (200 s, 1), 6 (450.5 s, 1), 7 (1200 s, 3)
#                                                -> handle time (200 + 450.5 + 1200) / 3 = 1850.5 / 3; FCR 2/3
#             satisfaction 3, 5, 2 (8 has none)  -> csat 1/3 (only the 5 is >= 4)
#   March:    no ticket                          -> volume 0, the ratios and the average null
BY_MONTH = [
    ("2025-01-01", 3, 450.0, 1 / 2, 2 / 2),
    ("2025-02-01", 4, 1850.5 / 3, 2 / 3, 1 / 3),
    ("2025-03-01", 0, None, None, None),
]


def csv_text(header: list[str], rows: list[tuple], *, delimiter: str = ",", render: Callable[[Any], str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[render(value) for value in row] for row in rows])
    return out.getvalue()


def iso(value: Any) -> str:
    """How most help-desk tools export: ISO timestamps (UTC as Z), true/false, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep="T" if value.tzinfo else " ")
        return text.replace("+00:00", "Z")
    return str(value)


def european(value: Any) -> str:
    """A spreadsheet's export: dd/mm/yyyy hh:mm, decimal commas, TRUE/FALSE, N/A for a missing number."""
    if value is None:
        return "N/A"
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, float):
        return str(value).replace(".", ",")
    return iso(value)


def write_export(folder: Path, layout: str) -> str:
    """Write TICKETS and AGENTS as one kind of export; return the options of the source in kpi.yml."""
    folder.mkdir(parents=True, exist_ok=True)
    agents = csv_text(AGENT_HEADER, AGENTS, render=iso)
    if layout == "one file":
        # with the byte-order mark spreadsheet programs write; the default encoding utf-8-sig reads it
        (folder / "tickets.csv").write_text(csv_text(TICKET_HEADER, TICKETS, render=iso), encoding="utf-8-sig")
        (folder / "agents.csv").write_text(agents, encoding="utf-8")
        return ""
    if layout == "monthly files":
        for month in (1, 2):
            rows = [row for row in TICKETS if row[1].month == month]  # by the date as written in the export
            (folder / f"tickets-2025-0{month}.csv").write_text(csv_text(TICKET_HEADER, rows, render=iso))
        (folder / "staff.csv").write_text(agents)
        (folder / "notes.txt").write_text("not a table")
        return "    tables:\n      tickets: tickets-*.csv\n      agents: staff.csv\n"
    assert layout == "european"
    (folder / "tickets.csv").write_text(csv_text(TICKET_HEADER, TICKETS, delimiter=";", render=european),
                                        encoding="latin-1")
    (folder / "agents.csv").write_text(csv_text(AGENT_HEADER, AGENTS, delimiter=";", render=european),
                                       encoding="latin-1")
    return ("    delimiter: ';'\n    decimal: ','\n    encoding: latin-1\n    null_values: [N/A]\n"
            "    datetime_format: '%d/%m/%Y %H:%M'\n")


def write_project(root: Path, layout: str = "one file", *, options: str | None = None,
                  definitions: str = DEFINITIONS) -> Path:
    """A project whose default source is a csv_folder on ``exports/``."""
    written = write_export(root / "exports", layout)
    (root / "definitions").mkdir(parents=True, exist_ok=True)
    (root / "definitions" / "helpdesk.yml").write_text(textwrap.dedent(definitions))
    (root / "kpi.yml").write_text("name: helpdesk\nsources:\n  default:\n    connector: csv_folder\n"
                                  f"    folder: exports\n{written if options is None else options}")
    return root


def kpi(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The kpi command, as a user runs it (a new process: the plugin is found through its entry point)."""
    return subprocess.run([sys.executable, "-m", "kpi_engine", *args], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "KPI_ENGINE_NO_CACHE": "1"})


def assert_rows(actual: list[tuple], expected: list[tuple]) -> None:
    assert len(actual) == len(expected), actual
    for got, want in zip(actual, expected):
        assert len(got) == len(want), (got, want)
        for value, wanted in zip(got, want):
            if isinstance(wanted, float):
                assert value == pytest.approx(wanted, rel=1e-12), (got, want)
            else:
                assert value == wanted and type(value) is type(wanted), (got, want)


# ---------------------------------------------------------------- the distribution


def test_the_entry_point_registers_the_connector():
    found = {ep.name: ep.value for ep in metadata.entry_points(group="kpi_engine")}
    assert found.get("example") == "kpi_engine_example"
    pm = get_plugin_manager()
    assert pm.get_plugin("example") is kpi_engine_example
    assert PluginRegistry(pm).connectors["csv_folder"] is CsvFolderConnector


def test_the_distribution_depends_on_kpi_engine_only():
    distribution = metadata.distribution("kpi-engine-example")
    assert distribution.requires == ["kpi-engine>=0.1"]
    assert distribution.metadata["Requires-Python"] == ">=3.11"


def test_the_connector_declares_its_dialect_and_options():
    assert (CsvFolderConnector.name, CsvFolderConnector.dialect, CsvFolderConnector.reads_files) == (
        "csv_folder", "sqlite", False)
    assert issubclass(CsvFolderConnector.Options, kpi_engine.ConnectorOptions)


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("layout", ["one file", "monthly files", "european"])
def test_kpis_by_month_match_the_hand_computed_numbers(tmp_path, layout):
    with kpi_engine.load(write_project(tmp_path, layout)) as project:
        result = project.query(KPIS, grain="month", start="2025-01-01", end="2025-03-31")
        assert result.columns == ["period", *KPIS]
        assert_rows(result.rows, BY_MONTH)


@pytest.mark.parametrize("layout", ["one file", "european"])
def test_kpis_by_a_column_and_by_a_joined_column(tmp_path, layout):
    with kpi_engine.load(write_project(tmp_path, layout)) as project:
        by_channel = project.query(["ticket_volume", "first_contact_resolution"], by=["channel"],
                                   start="2025-01-01", end="2025-02-28")
        assert by_channel.columns == ["period", "channel", "ticket_volume", "first_contact_resolution"]
        assert_rows(by_channel.rows, [
            ("2025-01-01", "chat", 2, 0.0),     # 2 (solved, 2 contacts), 3 (open)
            ("2025-01-01", "email", 1, 1.0),    # 1 (solved, 1 contact); 5 is spam
            ("2025-01-01", "phone", 0, None),   # phone tickets come in February only
            ("2025-02-01", "chat", 1, 0.0),     # 7 (solved, 3 contacts)
            ("2025-02-01", "email", 1, 1.0),    # 4 (solved, 1 contact)
            ("2025-02-01", "phone", 2, 1.0),    # 6 (solved, 1 contact), 8 (open)
        ])
        by_team = project.query(["ticket_volume", "average_handle_time"], by=["team"],
                                start="2025-01-01", end="2025-02-28")
        assert_rows(by_team.rows, [
            ("2025-01-01", "billing", 2, 300.0),           # agent 10: 1 (300 s), 3 (open)
            ("2025-01-01", "tech", 1, 600.0),              # agent 11: 2 (600 s)
            ("2025-02-01", "billing", 0, None),
            ("2025-02-01", "tech", 4, 1850.5 / 3),         # agents 11, 12: 4, 6, 7 solved, 8 open
        ])


def test_a_quarter_and_a_where_condition(tmp_path):
    with kpi_engine.load(write_project(tmp_path)) as project:
        quarter = project.query(KPIS, grain="quarter")
        # Q1: volume 3 + 4 = 7; handle time (300 + 600 + 200 + 450.5 + 1200) / 5 = 550.1;
        # FCR: 1, 4, 6 of the 5 solved = 3/5; csat: 5, 4 and 5 of 5, 4, 3, 5, 2 = 3/5
        assert_rows(quarter.rows, [("2025-01-01", 7, 550.1, 3 / 5, 3 / 5)])
        phone = project.query(["ticket_volume"], grain="all", where="channel = 'phone'")
        assert phone.rows == [(2,)]


def test_offsets_are_converted_to_the_timezone_of_the_source(tmp_path):
    root = write_project(tmp_path, options="    timezone: America/Sao_Paulo\n")
    with kpi_engine.load(root) as project:
        # ticket 4, 23:30 at -03:00, stays on 31 January in São Paulo (UTC-3): January 1, 2, 3, 4; February 6, 7, 8
        assert project.query(["ticket_volume"]).rows == [("2025-01-01", 4), ("2025-02-01", 3)]
        _, rows = project.connection().execute("SELECT ticket_id, created_at FROM tickets WHERE ticket_id IN (1, 4)")
        assert sorted(rows) == [(1, "2025-01-05 06:00:00"), (4, "2025-01-31 23:30:00")]  # 09:00Z is 06:00 there


def test_kpi_run_and_validate_on_the_command_line(tmp_path):
    root = write_project(tmp_path)
    done = kpi(root, "validate")
    assert (done.returncode, done.stdout.strip()) == (0, "ok: 4 KPIs and 2 datasets; every column found in the source")
    done = kpi(root, "run", "ticket_volume", "first_contact_resolution", "--from", "2025-01-01", "--to",
               "2025-02-28", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["period,ticket_volume,first_contact_resolution",
                                        "2025-01-01,3,0.5", f"2025-02-01,4,{2 / 3}"]


def test_validate_lists_the_columns_of_each_file(tmp_path):
    root = write_project(tmp_path, definitions=DEFINITIONS.replace("avg(handle_seconds", "avg(handle_secs"))
    with kpi_engine.load(root) as project:
        assert project.connection().columns("tickets") == [
            "ticket_id", "created_at", "channel", "status", "contacts", "handle_seconds", "is_spam", "agent_id",
            "satisfaction"]
    done = kpi(root, "validate")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "definitions/helpdesk.yml:25:18: error[unknown-column]: unknown column 'handle_secs' in dataset 'tickets'; "
        "did you mean 'handle_seconds'?")


def test_each_thread_gets_its_own_connection_to_data_read_once(tmp_path, monkeypatch):
    reads: list[str] = []
    read_table = reading.read_table

    def counting(name, *args, **kwargs):
        reads.append(name)
        return read_table(name, *args, **kwargs)

    monkeypatch.setattr("kpi_engine_example.connector.read_table", counting)
    results: list[list[tuple]] = []
    connections: set[int] = set()
    with kpi_engine.load(write_project(tmp_path)) as project:
        def work() -> None:
            connections.add(id(project.connection()))
            results.append(project.query(KPIS, start="2025-01-01", end="2025-03-31").rows)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 6 and len(connections) == 6
    for rows in results:
        assert_rows(rows, BY_MONTH)
    assert sorted(reads) == ["agents", "tickets"]  # the files were read once, for every thread


# ---------------------------------------------------------------- column types and names


@pytest.mark.parametrize(("header", "name"), [
    ("Ticket ID", "ticket_id"),
    ("First Response (min)", "first_response_min"),
    ("  Satisfação  ", "satisfacao"),
    ("1st reply", "_1st_reply"),
    ("already_fine", "already_fine"),
    ("%%", ""),
])
def test_column_names_are_names_a_formula_can_write(header, name):
    assert column_name(header) == name


SAO_PAULO = Parsing(zone=zoneinfo.ZoneInfo("America/Sao_Paulo"))


@pytest.mark.parametrize(("values", "parsing", "kind", "converted"), [
    (["true", "FALSE", None], Parsing(), "boolean", [1, 0, None]),
    (["42", "-7", "0"], Parsing(), "integer", [42, -7, 0]),
    (["007", "12"], Parsing(), "text", ["007", "12"]),                      # leading zeros: an identifier
    (["12345678901234567890"], Parsing(), "text", ["12345678901234567890"]),  # beyond SQLite's integers
    (["1.5", "2", "-.25", "1e3"], Parsing(), "real", [1.5, 2.0, -0.25, 1000.0]),
    (["1,5", "2"], Parsing(decimal=","), "real", [1.5, 2.0]),
    (["1,5"], Parsing(), "text", ["1,5"]),
    (["2025-01-31", "2024-02-29"], Parsing(), "date", ["2025-01-31", "2024-02-29"]),
    (["2025-02-30"], Parsing(), "text", ["2025-02-30"]),
    (["2025-01-31T13:45:00", "2025-01-31 08:00", "2025-02-01"], Parsing(), "timestamp",
     ["2025-01-31 13:45:00", "2025-01-31 08:00:00", "2025-02-01 00:00:00"]),
    (["2025-01-31T23:30:00-03:00", "2025-01-05T09:00:00Z"], Parsing(), "timestamp",
     ["2025-02-01 02:30:00", "2025-01-05 09:00:00"]),
    (["2025-01-31T23:30:00-03:00", "2025-07-05T09:00:00Z"], SAO_PAULO, "timestamp",
     ["2025-01-31 23:30:00", "2025-07-05 06:00:00"]),
    (["31/01/2025 13:45", "2025-02-01T10:00:00"], Parsing(datetime_format="%d/%m/%Y %H:%M"), "timestamp",
     ["2025-01-31 13:45:00", "2025-02-01 10:00:00"]),
    (["31/01/2025 13:45"], Parsing(), "text", ["31/01/2025 13:45"]),
    (["20250131"], Parsing(), "integer", [20250131]),                     # not read as a basic ISO date
    (["5", "N/A"], Parsing(), "text", ["5", "N/A"]),                      # one placeholder makes it text
    ([None, None], Parsing(), "text", [None, None]),
])
def test_each_column_gets_the_one_type_all_its_values_fit(values, parsing, kind, converted):
    assert type_column(values, parsing) == (kind, converted)


# ---------------------------------------------------------------- options


OPTION_ERRORS = [
    ("    delimiter: ';;'\n", 6, 16,
     "delimiter must be one character (a tab is \"\\t\", in double quotes); got ';;' in source 'default'"),
    ("    encoding: utf-9\n", 6, 15,
     "encoding must be one Python knows (utf-8-sig, latin-1, cp1252, ...); got 'utf-9' in source 'default'"),
    ("    timezone: Mars/Olympus\n", 6, 15,
     "timezone must be an IANA time zone name such as America/Sao_Paulo or UTC; got 'Mars/Olympus' in source "
     "'default'"),
    ("    datetime_format: dd/mm/yyyy\n", 6, 22,
     "datetime_format must be a strptime format such as '%d/%m/%Y %H:%M'; got 'dd/mm/yyyy' in source 'default'"),
    ("    decimal: ','\n", 3, 3,
     "decimal and delimiter cannot both be ',': files with decimal commas separate fields with another "
     "character, usually ';' in source 'default'"),
    ("    tables: {Tickets: tickets.csv}\n", 6, 14,
     "invalid name 'Tickets': names are lower-case letters, digits and _, starting with a letter "
     "(pattern [a-z][a-z0-9_]*)"),
    ("    folders: more\n", 6, 5, "unknown key 'folders' in source 'default'; did you mean 'folder'?"),
    ("    null_values: N/A\n", 6, 18, "null_values must be a list, e.g. [a, b]; got 'N/A'"),
]


@pytest.mark.parametrize(("option", "line", "column", "message"), OPTION_ERRORS,
                         ids=[o.split(":")[0].strip() for o, *_ in OPTION_ERRORS])
def test_bad_options_are_errors_at_their_line_in_kpi_yml(tmp_path, option, line, column, message):
    root = write_project(tmp_path, options=option)
    with pytest.raises(kpi_engine.DefinitionError) as info:
        kpi_engine.load(root)
    assert (info.value.message, Path(info.value.file), info.value.line, info.value.column) == (
        message, root / "kpi.yml", line, column)


def test_the_folder_is_required_and_a_bad_option_exits_with_status_1(tmp_path):
    root = write_project(tmp_path)
    (root / "kpi.yml").write_text("sources:\n  default:\n    connector: csv_folder\n")
    done = kpi(root, "run", "ticket_volume")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "kpi.yml:2:3: error[schema]: missing required key 'folder' in source 'default'"
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- failures


def _append(path: str, text: str) -> Callable[[Path], None]:
    return lambda root: (root / path).write_text((root / path).read_text(encoding="utf-8-sig") + text)


def _write(path: str, data: bytes) -> Callable[[Path], None]:
    return lambda root: (root / path).write_bytes(data)


def _options(text: str) -> Callable[[Path], None]:
    return lambda root: (root / "kpi.yml").write_text((root / "kpi.yml").read_text() + text)


FAILURES = [
    # (what, change to the project, message after "source 'default' (csv_folder <folder>): ", hint)
    ("missing folder",
     lambda root: (root / "kpi.yml").write_text((root / "kpi.yml").read_text().replace("folder: exports",
                                                                                        "folder: exportz")),
     "folder exportz does not exist", "check 'folder:' in kpi.yml (relative to kpi.yml)"),
    ("no csv file",
     lambda root: [p.rename(p.with_suffix(".bak")) for p in (root / "exports").glob("*.csv")],
     "folder exports has no .csv files",
     "export the tables into it as .csv files, or name the files under 'tables:'"),
    ("a named file is missing", _options("    tables:\n      tickets: tickets.csv\n      agents: staff.csv\n"),
     "there is no file staff.csv (table 'agents') in exports",
     "check 'tables:' in kpi.yml; file names are relative to 'folder:'"),
    ("a pattern matches nothing", _options("    tables:\n      tickets: tickets-*.csv\n"),
     "no file matches tickets-*.csv (table 'tickets') in exports",
     "check 'tables:' in kpi.yml; file names are relative to 'folder:'"),
    ("a short line", _append("exports/tickets.csv", "9,2025-03-01 10:00:00,chat\n"),  # header + 8 rows: line 10
     "exports/tickets.csv line 10: 3 fields, but the header has 9",
     "check 'delimiter:' (now ',') in kpi.yml and the quotes on that line"),
    ("another encoding", _write("exports/agents.csv", "Agent ID,Name,Team\n10,Ana,billing\n11,João,tech\n"
                                                      .encode("latin-1")),  # ã is byte 0xe3 in latin-1
     "exports/agents.csv line 3: byte 0xe3 is not utf-8-sig text",
     "set 'encoding:' in kpi.yml to the encoding of the export, e.g. latin-1 or cp1252"),
    ("a stray quote", _append("exports/agents.csv", '13,"Rui" Lima,tech\n'),  # header + 3 rows: line 5
     "exports/agents.csv line 5: not valid CSV: ',' expected after '\"'",
     "check the quotes on that line, and 'delimiter:' in kpi.yml"),
    ("an empty file", _write("exports/agents.csv", b""),
     "exports/agents.csv is empty: its first line must name the columns", "export the file with a header row"),
    ("two headers, one name", _write("exports/agents.csv", b"Agent ID,agent_id,Team\n10,10,billing\n"),
     "exports/agents.csv: columns 'Agent ID' and 'agent_id' would both be 'agent_id'",
     "rename one of them in the export"),
    ("two files, one table", _write("exports/Tickets.csv", b"a\n1\n"),
     "exports/Tickets.csv and exports/tickets.csv would both be table 'tickets'",
     "name the tables yourself under 'tables:' in kpi.yml"),
]


def _monthly_with_another_header(root: Path) -> None:
    february = root / "exports" / "tickets-2025-02.csv"
    lines = february.read_text().splitlines()
    february.write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n")  # no Satisfaction


@pytest.mark.parametrize(("change", "message", "hint"), [case[1:] for case in FAILURES],
                         ids=[case[0] for case in FAILURES])
def test_a_source_that_cannot_be_read_exits_with_status_3(tmp_path, change, message, hint):
    root = write_project(tmp_path)
    change(root)
    folder = "exportz" if "exportz" in message else "exports"
    done = kpi(root, "run", "ticket_volume")
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.rstrip("\n").splitlines() == [
        f"error[source]: source 'default' (csv_folder {folder}): {message}", f"  = hint: {hint}"]


def test_monthly_files_must_share_their_header(tmp_path):
    root = write_project(tmp_path, "monthly files")
    _monthly_with_another_header(root)
    with pytest.raises(kpi_engine.SourceError) as info:
        kpi_engine.load(root).query(["ticket_volume"])
    assert info.value.message == (
        "source 'default' (csv_folder exports): exports/tickets-2025-02.csv does not have the columns of "
        "exports/tickets-2025-01.csv (table 'tickets'): missing satisfaction")
    assert (info.value.hint, info.value.exit_code) == ("files of one table must have the same header", 3)


def test_an_unreadable_file_is_named(tmp_path, monkeypatch):
    root = write_project(tmp_path)
    read_bytes = Path.read_bytes

    def refuse(path: Path) -> bytes:
        if path.name == "tickets.csv":
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", refuse)  # as root, chmod cannot make a file unreadable
    with pytest.raises(kpi_engine.SourceError) as info:
        kpi_engine.load(root).query(["ticket_volume"])
    assert info.value.message == "source 'default' (csv_folder exports): cannot read exports/tickets.csv: Permission denied"
    assert info.value.hint == "check that the file exists and that this user may read it"


def test_an_unknown_table_names_the_tables_there_are(tmp_path):
    root = write_project(tmp_path, definitions=DEFINITIONS.replace("table: agents", "table: staff"))
    with kpi_engine.load(root) as project:
        with pytest.raises(kpi_engine.SourceError) as info:
            project.connection().execute("SELECT * FROM staff")
    assert info.value.message == "source 'default' (csv_folder exports) failed: no such table: staff"
    assert info.value.hint == ("the tables of source 'default' are agents, tickets (one per CSV file, named after "
                               "it, or as under 'tables:')")
    done = kpi(root, "run", "ticket_volume", "--by", "team")
    assert done.returncode == 3 and "no such table: staff" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- read-only


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("layout", ["one file", "monthly files"])
def test_running_kpis_never_changes_the_files(tmp_path, layout):
    root = write_project(tmp_path, layout)
    before = _snapshot(root / "exports")
    assert kpi(root, "validate").returncode == 0
    assert kpi(root, "run", "--all", "--by", "team").returncode == 0
    with kpi_engine.load(root) as project:
        connection = project.connection()
        for statement in ("DELETE FROM tickets", "DROP TABLE agents", "CREATE TABLE notes (body TEXT)",
                          f"ATTACH DATABASE '{root / 'exports' / 'copy.db'}' AS copy",
                          f"VACUUM INTO '{root / 'exports' / 'copy.db'}'"):
            with pytest.raises(kpi_engine.SourceError, match="readonly database|too many attached databases"):
                connection.execute(statement)
        # the refused statements changed nothing, not even this thread's copy of the data
        assert_rows(project.query(KPIS, start="2025-01-01", end="2025-03-31").rows, BY_MONTH)
    assert _snapshot(root / "exports") == before
