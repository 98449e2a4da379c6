"""kpi check: the last complete month of each KPI with a target, its status and change, exit codes,
--notify (a local HTTP receiver started here) and notifier plugins.

"Today" is 2025-04-10 (Project.today is replaced) unless a test says otherwise: April is the month in
progress, March the last complete month, February the one before. Every expected number below is
counted by hand from ROWS.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from support.engines import write_tables
from kpi_engine.check import delivery
from kpi_engine.cli import main
from kpi_engine.project import Project

ROOT = Path(__file__).resolve().parents[1]

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
kpis:
  solved_share:
    title: Solved share
    dataset: tickets
    formula: "count(where status = 'solved') / count()"
    format: percent
    target: 0.6
    warning: 0.4
    tags: [support]
  volume:
    title: Ticket volume
    dataset: tickets
    formula: count()
    format: integer
    target: 5
    warning: 4
    tags: [support, volume]
  wait:
    title: Wait
    dataset: tickets
    formula: avg(wait_seconds)
    format: duration
    direction: lower
    target: 60
    warning: 90
    tags: [calls]
  chats:
    title: Chats
    dataset: tickets
    formula: "count(where channel = 'chat')"
    format: integer
    target: 1
    tags: [support]
  no_target:
    title: No target
    dataset: tickets
    formula: count()
    format: integer
    tags: [support]
"""

# February: 2 email tickets (1 solved), waits 30 and 90.
# March: 2 email (1 solved) and 2 chat (both solved), waits 40, 80, 120, 160.
# April (in progress on 2025-04-10): 1 email ticket, open, wait 10.
ROWS = [
    (1, dt.datetime(2025, 2, 3, 9), "email", "solved", 30),
    (2, dt.datetime(2025, 2, 20, 15), "email", "open", 90),
    (3, dt.datetime(2025, 3, 1, 0), "email", "solved", 40),
    (4, dt.datetime(2025, 3, 9, 12), "chat", "solved", 80),
    (5, dt.datetime(2025, 3, 18, 8), "chat", "solved", 120),
    (6, dt.datetime(2025, 3, 31, 23, 59), "email", "open", 160),
    (7, dt.datetime(2025, 4, 2, 10), "email", "open", 10),
]
COLUMNS = ["id", "created_at", "channel", "status", "wait_seconds"]

# March against February, by hand:
#   solved_share 3/4 = 0.75 (ok: >= 0.6), February 1/2 = 0.5: change 0.75 - 0.5 = 0.25 (points)
#   volume 4 (warn: below 5, not below 4), February 2: change (4 - 2) / 2 = 1.0
#   wait (40+80+120+160)/4 = 100 s (bad: lower is better, above the warning 90), February (30+90)/2 = 60:
#     change (100 - 60) / 60 = 2/3
#   chats 2 (ok: >= 1), February 0: change null (previous is 0)
#   no_target 4, no status (no target), February 2: change 1.0
EXPECTED_KPIS = [
    {"name": "solved_share", "title": "Solved share", "period": "2025-03-01", "value": 0.75, "formatted": "75.0%",
     "target": 0.6, "status": "ok", "change": 0.25},
    {"name": "volume", "title": "Ticket volume", "period": "2025-03-01", "value": 4, "formatted": "4",
     "target": 5, "status": "warn", "change": 1.0},
    {"name": "wait", "title": "Wait", "period": "2025-03-01", "value": 100, "formatted": "1m 40s",
     "target": 60, "status": "bad", "change": pytest.approx(2 / 3)},
    {"name": "chats", "title": "Chats", "period": "2025-03-01", "value": 2, "formatted": "2",
     "target": 1, "status": "ok", "change": None},
]
EXPECTED_TEXT = "\n".join([
    "kpi check of checks: 1 bad, 1 warn, 2 ok",
    "• bad: Wait 1m 40s (target 1m 00s, change +66.7%, March 2025)",
    "• warn: Ticket volume 4 (target 5, change +100.0%, March 2025)",
    "• ok: Solved share 75.0% (target 60.0%, change +25.0 pp, March 2025)",
    "• ok: Chats 2 (target 1, change -, March 2025)",
])
EXPECTED = {"project": "checks", "text": EXPECTED_TEXT, "kpis": EXPECTED_KPIS}


def on(day: dt.date):
    """A replacement for Project.today: the current instant falls on ``day``."""
    return lambda self, timezone=None: day


@pytest.fixture
def project_dir(write_project, monkeypatch):
    monkeypatch.setattr(Project, "today", on(dt.date(2025, 4, 10)))
    root = write_project({
        "kpi.yml": "name: checks\nsources:\n  default:\n    connector: duckdb\n    database: data.duckdb\n",
        "definitions/support.yml": DEFINITIONS,
    })
    write_tables("duckdb", root / "data.duckdb", {"tickets": (COLUMNS, ROWS)})
    return root


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The pauses between webhook attempts, recorded instead of waited."""
    recorded: list[float] = []
    monkeypatch.setattr(delivery, "_pause", recorded.append)
    return recorded


def kpi(project_dir: Path, *args: str):
    return CliRunner().invoke(main, ["--project", str(project_dir), *args])


def table(output: str) -> list[list[str]]:
    """The lines of the check table, each split into its words (the layout itself is render_table's)."""
    return [line.split() for line in output.splitlines()]


# ================================================================ what it prints, and its exit code
def test_every_kpi_with_a_target_in_its_last_complete_month(project_dir):
    result = kpi(project_dir, "check")
    assert result.exit_code == 4, result.output  # wait is bad
    assert table(result.stdout) == [
        ["kpi", "period", "value", "target", "status", "change"],
        ["-" * 12, "-" * 10, "-" * 6, "-" * 6, "-" * 6, "-" * 8],
        ["solved_share", "2025-03-01", "75.0%", "60.0%", "ok", "+25.0", "pp"],
        ["volume", "2025-03-01", "4", "5", "warn", "+100.0%"],
        ["wait", "2025-03-01", "1m", "40s", "1m", "00s", "bad", "+66.7%"],
        ["chats", "2025-03-01", "2", "1", "ok", "-"],
        ["1", "bad,", "1", "warn,", "2", "ok"],
    ]
    assert result.stderr == "1 KPI at or beyond bad: wait\n"


def test_json_is_the_summary(project_dir):
    result = kpi(project_dir, "check", "--format", "json")
    assert result.exit_code == 4
    assert json.loads(result.stdout) == EXPECTED


@pytest.mark.parametrize(("fail_on", "code", "message"), [
    ("bad", 0, ""),
    ("warn", 4, "1 KPI at or beyond warn: volume\n"),
])
def test_fail_on_warn_or_bad(project_dir, fail_on, code, message):
    result = kpi(project_dir, "check", "solved_share", "volume", "--fail-on", fail_on)
    assert result.exit_code == code
    assert result.stderr == message
    assert [row[0] for row in table(result.stdout)[2:4]] == ["solved_share", "volume"]


def test_both_bad_and_warn_count_for_fail_on_warn(project_dir):
    result = kpi(project_dir, "check", "--fail-on", "warn")
    assert result.exit_code == 4
    assert result.stderr == "2 KPIs at or beyond warn: volume, wait\n"


def test_tag_selects_its_kpis_that_have_a_target(project_dir):
    result = kpi(project_dir, "check", "--tag", "support", "--format", "json")
    assert result.exit_code == 0  # solved_share ok, volume warn, chats ok; no_target has no target
    assert [k["name"] for k in json.loads(result.stdout)["kpis"]] == ["solved_share", "volume", "chats"]
    result = kpi(project_dir, "check", "--tag", "calls")
    assert result.exit_code == 4
    assert [row[0] for row in table(result.stdout)[2:-1]] == ["wait"]


def test_a_named_kpi_without_a_target_is_shown_without_status(project_dir):
    result = kpi(project_dir, "check", "no_target", "chats", "--format", "json", "--fail-on", "warn")
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert found["kpis"][0] == {"name": "no_target", "title": "No target", "period": "2025-03-01", "value": 4,
                                "formatted": "4", "target": None, "status": None, "change": 1.0}
    assert found["text"].splitlines() == [
        "kpi check of checks: 1 ok, 1 without status",
        "• ok: Chats 2 (target 1, change -, March 2025)",
        "• no status: No target 4 (no target, change +100.0%, March 2025)",
    ]


def test_the_month_in_progress_moves_with_today(project_dir, monkeypatch):
    """On 2025-05-20, April (1 open ticket) is the last complete month and March the one before."""
    monkeypatch.setattr(Project, "today", on(dt.date(2025, 5, 20)))
    result = kpi(project_dir, "check", "solved_share", "volume", "--format", "json")
    # solved_share 0/1 = 0 (bad), change 0 - 0.75 = -0.75; volume 1 (bad), change (1 - 4) / 4 = -0.75
    assert [(k["period"], k["value"], k["status"], k["change"]) for k in json.loads(result.stdout)["kpis"]] == [
        ("2025-04-01", 0.0, "bad", -0.75), ("2025-04-01", 1, "bad", -0.75)]
    assert result.exit_code == 4
    assert table(kpi(project_dir, "check", "solved_share").stdout)[2] == [
        "solved_share", "2025-04-01", "0.0%", "60.0%", "bad", "-75.0", "pp"]


def test_no_complete_month_yet(project_dir, monkeypatch):
    """On 2025-02-10 February is in progress and March and April have not begun: nothing is complete."""
    monkeypatch.setattr(Project, "today", on(dt.date(2025, 2, 10)))
    result = kpi(project_dir, "check", "volume", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["kpis"] == [
        {"name": "volume", "title": "Ticket volume", "period": None, "value": None, "formatted": "-", "target": 5,
         "status": None, "change": None}]


def test_the_real_clock(write_project):
    """Without a replaced today: rows this month (in progress), last month and the month before."""
    today = dt.datetime.now(dt.timezone.utc).date()
    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    before = (last_month - dt.timedelta(days=1)).replace(day=1)
    root = write_project({
        "kpi.yml": "name: clock\nsources:\n  default:\n    connector: duckdb\n    database: data.duckdb\n",
        "definitions/support.yml": DEFINITIONS,
    })
    rows = [(1, dt.datetime.combine(before, dt.time(12)), "chat", "solved", 10),
            (2, dt.datetime.combine(last_month, dt.time(12)), "chat", "solved", 20),
            (3, dt.datetime.combine(last_month, dt.time(13)), "chat", "open", 30),
            (4, dt.datetime.combine(this_month, dt.time(0, 30)), "chat", "solved", 40)]
    write_tables("duckdb", root / "data.duckdb", {"tickets": (COLUMNS, rows)})
    result = kpi(root, "check", "chats", "--format", "json")
    # last month: 2 chats (ok), the month before 1: change (2 - 1) / 1 = 1.0
    assert json.loads(result.stdout)["kpis"][0] == {
        "name": "chats", "title": "Chats", "period": last_month.isoformat(), "value": 2, "formatted": "2",
        "target": 1, "status": "ok", "change": 1.0}


# ================================================================ bad input
@pytest.mark.parametrize(("args", "needle"), [
    (["--notify", "ftp://example.com/hook"], "'ftp://example.com/hook' is not an http:// or https:// URL"),
    (["--notify", "hooks.slack.com/services/x"], "is not an http:// or https:// URL"),
    (["--notify", "https://"], "'https://' names no host"),
    (["--notify", "http://example.com:port/"], "is not a URL"),
    (["volume", "--tag", "support"], "give KPI names or --tag, not both"),
    (["--fail-on", "ok"], "'ok' is not one of 'warn', 'bad'"),
])
def test_usage_errors_are_exit_2(project_dir, args, needle):
    result = kpi(project_dir, "check", *args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""


def test_nothing_to_check_is_a_usage_error(project_dir):
    """No KPI with a target is a check of nothing: exit 2 (as `kpi run --all` with only hidden KPIs), so a
    cron job or CI step set up on the wrong project does not pass in silence."""
    (project_dir / "definitions" / "support.yml").write_text(re.sub(r"\n    (target|warning): .*", "", DEFINITIONS))
    result = kpi(project_dir, "check")
    assert result.exit_code == 2
    assert "no KPI has a target: nothing to check" in result.stderr
    result = kpi(project_dir, "check", "--tag", "volume")
    assert result.exit_code == 2
    assert "no KPI tagged 'volume' has a target" in result.stderr


def test_an_unknown_tag_is_exit_1_with_a_suggestion_as_for_kpi_report(project_dir):
    result = kpi(project_dir, "check", "--tag", "suport")
    assert result.exit_code == 1, result.output
    assert "error[unknown-tag]: unknown tag 'suport'; did you mean 'support'?" in result.stderr
    assert result.stdout == ""


def test_an_unknown_kpi_is_exit_1_with_a_suggestion(project_dir):
    result = kpi(project_dir, "check", "volum")
    assert result.exit_code == 1
    assert "unknown KPI 'volum'; did you mean 'volume'?" in result.stderr


def test_a_definition_error_is_exit_1_at_its_place(project_dir):
    (project_dir / "definitions" / "more.yml").write_text(
        "kpis:\n  broken:\n    dataset: tickets\n    formula: count(where statuss = 'x')\n    target: 1\n")
    result = kpi(project_dir, "check")
    assert result.exit_code == 1
    # "    formula: count(where " is 25 characters: the column starts at 26
    assert "more.yml:4:26: error[unknown-column]: unknown column 'statuss'" in result.stderr
    assert "Traceback" not in result.output


def test_a_dead_source_is_exit_3(project_dir):
    (project_dir / "data.duckdb").unlink()
    result = kpi(project_dir, "check")
    assert result.exit_code == 3
    assert "source 'default'" in result.stderr and "Traceback" not in result.output


# ================================================================ --notify: a receiver started here
class Receiver:
    """An HTTP server on a free local port that records each POST and answers with the given statuses
    in turn (the last one repeated)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append({"path": self.path, "content_type": self.headers["Content-Type"],
                                       "body": body})
                status = outer.statuses.pop(0) if len(outer.statuses) > 1 else outer.statuses[0]
                answer = b"ok" if status == 200 else b"invalid_payload"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/SECRET"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_notify_posts_the_summary_as_json(project_dir, waits):
    with Receiver([200]) as receiver:
        result = kpi(project_dir, "check", "--notify", receiver.url)
    assert result.exit_code == 4  # delivered; wait is bad
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == "/services/T0/B0/SECRET"
    assert request["content_type"] == "application/json; charset=utf-8"
    assert json.loads(request["body"].decode("utf-8")) == EXPECTED
    assert "• bad: Wait" in request["body"].decode("utf-8")  # UTF-8 as is, not \u escapes
    assert waits == []


def test_a_receiver_that_is_down_is_exit_3_after_the_summary(project_dir, waits):
    url = f"http://127.0.0.1:{free_port()}/services/T0/B0/SECRET"
    result = kpi(project_dir, "check", "--notify", url)
    assert result.exit_code == 3  # not 4, though wait is bad: the delivery failed
    assert table(result.stdout)[-1] == ["1", "bad,", "1", "warn,", "2", "ok"]  # the summary was printed
    port = url.split(":")[2].split("/")[0]
    assert (f"error[notify]: could not deliver the check's summary to http://127.0.0.1:{port}/…: cannot connect: "
            "Connection refused (after 3 attempts)") in result.stderr
    assert "SECRET" not in result.output  # the path of a webhook is its secret
    assert result.output.index("1 bad, 1 warn, 2 ok") < result.output.index("error[notify]")
    assert "1 KPI at or beyond bad: wait" in result.stderr
    assert waits == [0.5, 1.0]  # exponential backoff between the 3 attempts


def test_a_receiver_that_fails_twice_then_answers(project_dir, waits):
    with Receiver([503, 429, 200]) as receiver:
        result = kpi(project_dir, "check", "solved_share", "--notify", receiver.url)
    assert result.exit_code == 0, result.output
    assert len(receiver.requests) == 3
    assert receiver.requests[0]["body"] == receiver.requests[2]["body"]
    assert waits == [0.5, 1.0]


def test_a_receiver_that_keeps_failing(project_dir, waits):
    with Receiver([500]) as receiver:
        result = kpi(project_dir, "check", "solved_share", "--notify", receiver.url)
    assert result.exit_code == 3
    assert len(receiver.requests) == 3
    assert "HTTP 500 Internal Server Error: invalid_payload (after 3 attempts)" in result.stderr


@pytest.mark.parametrize(("status", "needle"), [
    (404, "HTTP 404 Not Found: invalid_payload"),
    (302, "HTTP 302 Found (a redirect: give the final URL"),
])
def test_a_refusal_is_not_retried(project_dir, waits, status, needle):
    with Receiver([status]) as receiver:
        result = kpi(project_dir, "check", "solved_share", "--notify", receiver.url)
    assert result.exit_code == 3
    assert len(receiver.requests) == 1 and waits == []
    assert needle in result.stderr


def test_post_json_takes_its_sleep_and_bounds(waits):
    slept: list[float] = []
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(delivery.NotifyError, match=r"after 4 attempts"):
        delivery.post_json(url, {"text": "x"}, attempts=4, backoff=0.25, sleep=slept.append)
    assert slept == [0.25, 0.5, 1.0] and waits == []
    # the worst case of the defaults stays under 10 seconds
    worst = delivery.ATTEMPTS * delivery.TIMEOUT + sum(delivery.BACKOFF * 2 ** i for i in range(delivery.ATTEMPTS - 1))
    assert worst < 10


# ================================================================ notifier plugins
RECORDER = '''
import json

from kpi_engine import hookimpl


@hookimpl
def notify(summary, project):
    with open(project.root / "received.jsonl", "a") as out:
        out.write(json.dumps(summary) + "\\n")
'''

ONLY_SUMMARY = '''
from kpi_engine import hookimpl

SEEN = []


@hookimpl
def notify(summary):
    summary["kpis"].clear()  # a channel's copy: the others still get every KPI
    SEEN.append(summary)
'''

FAILING = '''
from kpi_engine import hookimpl


@hookimpl
def notify(summary):
    raise RuntimeError("pager service down")
'''


def with_plugins(project_dir: Path, plugins: dict[str, str]) -> None:
    for name, code in plugins.items():
        (project_dir / name).write_text(code)
    config = project_dir / "kpi.yml"
    config.write_text(config.read_text() + f"plugins: [{', '.join(plugins)}]\n")


def test_a_notifier_plugin_receives_the_summary(project_dir):
    with_plugins(project_dir, {"clearing.py": ONLY_SUMMARY, "recorder.py": RECORDER})
    result = kpi(project_dir, "check")
    assert result.exit_code == 4
    lines = (project_dir / "received.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [EXPECTED]
    kpi(project_dir, "check", "chats")
    assert len((project_dir / "received.jsonl").read_text().splitlines()) == 2  # every check, every time


def test_a_failing_plugin_is_exit_3_with_its_name_and_the_others_still_deliver(project_dir, waits):
    with_plugins(project_dir, {"failing.py": FAILING, "recorder.py": RECORDER})
    with Receiver([200]) as receiver:
        result = kpi(project_dir, "check", "solved_share", "--notify", receiver.url)
    assert result.exit_code == 3
    assert ("error[notify]: notifier plugin failing.py failed: RuntimeError: pager service down"
            in result.stderr)
    assert result.output.index("1 ok") < result.output.index("error[notify]")
    assert len(receiver.requests) == 1
    assert len((project_dir / "received.jsonl").read_text().splitlines()) == 1


def test_a_webhook_and_a_plugin_both_failing_are_both_reported(project_dir, waits):
    with_plugins(project_dir, {"failing.py": FAILING})
    result = kpi(project_dir, "check", "solved_share", "--notify", f"http://127.0.0.1:{free_port()}/x")
    assert result.exit_code == 3
    assert result.stderr.count("error[notify]") == 2 and "2 errors" in result.stderr


def test_a_notify_hook_with_an_unknown_argument_is_a_plugin_error_at_its_line(project_dir):
    with_plugins(project_dir, {"typo.py": "from kpi_engine import hookimpl\n\n\n@hookimpl\n"
                                          "def notify(summry):\n    pass\n"})
    result = kpi(project_dir, "check")
    assert result.exit_code == 1
    assert "kpi.yml:6:11: error[plugin]: plugin module" in result.stderr and "summry" in result.stderr
    assert "Traceback" not in result.output


def test_the_example_plugin_of_the_docs(project_dir):
    """docs/plugins.md's notifier (a file block), dropped into this project, logs the summary."""
    docs = (ROOT / "docs" / "plugins.md").read_text()
    code = re.search(r"<!-- file: plugins/check_log.py -->\n```python\n(.*?)^```", docs, re.S | re.M).group(1)
    (project_dir / "plugins").mkdir()
    (project_dir / "plugins" / "check_log.py").write_text(code)
    config = project_dir / "kpi.yml"
    config.write_text(config.read_text() + "plugins: [plugins/check_log.py]\n")
    kpi(project_dir, "check", "solved_share")
    kpi(project_dir, "check", "--tag", "support")
    entries = [json.loads(line) for line in (project_dir / "check-log.jsonl").read_text().splitlines()]
    assert [[k["name"] for k in entry["kpis"]] for entry in entries] == [
        ["solved_share"], ["solved_share", "volume", "chats"]]
    assert entries[1]["kpis"] == [EXPECTED_KPIS[0], EXPECTED_KPIS[1], EXPECTED_KPIS[3]]
    assert dt.datetime.fromisoformat(entries[0]["checked_at"]).tzinfo is not None
