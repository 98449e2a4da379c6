"""``kpi report``: the HTML it writes (read as text here; tests/test_report_browser.py opens it in a browser).

Numbers: tests/support/report_data.py, worked out by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner

from kpi_engine.cli import main
from kpi_engine.report import page as report_page
from kpi_engine.report.figures import change, change_text
from support.report_data import DEFINITIONS, FIXED_TABLES, NAMES, RECENT_TILES, label, recent_tables

TILE = re.compile(r'<li class="tile" data-kpi="([^"]*)" data-status="([^"]*)">(.*?)</li>', re.S)


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def tiles(html: str) -> dict[str, dict[str, str]]:
    """Each tile's status and the text of its parts (value, period, change, target, status word)."""
    found = {}
    for name, status, body in TILE.findall(html):
        parts = {cls: unescape(re.sub(r"<[^>]+>", "", text)).strip()
                 for cls, text in re.findall(r'<p class="(\w+)">(.*?)</p>', body, re.S)}
        found[name] = {**parts, "data_status": status}
    return found


def section(html: str, name: str) -> str:
    match = re.search(rf'<section class="kpi" id="kpi-{name}".*?(?=<section class="kpi" |</div>\s*</main>)', html, re.S)
    assert match, name
    return match.group(0)


def report(project, *args: str) -> tuple[int, str, Path]:
    out = project.root / "out.html"
    result = CliRunner().invoke(main, ["--project", str(project.root), "report", *args, "--out", str(out)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output, out


@pytest.fixture
def recent(make_project):
    return make_project(DEFINITIONS, recent_tables(today()))


def test_each_tile_shows_the_last_complete_period_with_its_change_target_and_status(recent):
    code, output, out = report(recent)
    assert (code, output) == (0, f"wrote {out} (5 KPIs)\n")
    html = out.read_text()
    found = tiles(html)
    assert list(found) == NAMES
    for name, (back, value, status, change_shown) in RECENT_TILES.items():
        tile = found[name]
        assert (tile["value"], tile["data_status"]) == (value, status), name
        assert tile["period"] == label(today(), back)[:7]
        assert tile["change"] == f"{change_shown} vs {label(today(), back + 1)[:7]}"
    assert found["volume"]["target"] == "target 3" and found["solved_rate"]["target"] == "target 70.0%"
    assert "target" not in found["unsolved"]  # no target, no target line
    assert found["solved_rate"]["status"] == "warn" and found["unsolved"]["status"] == "no target"  # the words
    # the status is a word as well as a colour
    assert '<span class="word">warn</span>' in html and '<span class="word">bad</span>' in html


def test_tiles_equal_kpi_run_for_the_same_query(recent):
    """The headline row of `kpi run --status --format json`, formatted as the table output formats it."""
    code, _, out = report(recent, "volume", "solved_rate", "--from", label(today(), 2), "--to",
                          (month_last_day(today(), 1)).isoformat())
    assert code == 0
    run = CliRunner().invoke(main, ["--project", str(recent.root), "run", "volume", "solved_rate", "--status",
                                    "--format", "json", "--from", label(today(), 2), "--to",
                                    month_last_day(today(), 1).isoformat()])
    rows = json.loads(run.output)
    assert [r["period"] for r in rows] == [label(today(), 2), label(today(), 1)]
    last = rows[-1]
    assert (last["volume"], last["volume__status"], last["solved_rate"], last["solved_rate__status"]) == (
        2, "ok", 0.5, "warn")
    found = tiles(out.read_text())
    assert (found["volume"]["value"], found["volume"]["data_status"]) == ("2", last["volume__status"])
    assert (found["solved_rate"]["value"], found["solved_rate"]["data_status"]) == ("50.0%", last["solved_rate__status"])


def month_last_day(day: dt.date, back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - back + 1
    return dt.date(index // 12, index % 12 + 1, 1) - dt.timedelta(days=1)


def test_twelve_complete_periods_and_the_one_in_progress_marked(recent):
    _, _, out = report(recent, "volume")
    html = out.read_text()
    volume = section(html, "volume")
    periods = re.findall(r'<th scope="row">(\d{4}-\d\d-\d\d)', volume)
    assert periods == [label(today(), back) for back in range(12, -1, -1)]  # M-12 .. M-1, then M
    partial = re.findall(r'<tr class="partial"><th scope="row">([^<]*)', volume)
    assert partial == [f"{label(today(), 0)}* "]
    assert 'class="partial-label"' in volume and ">in progress</text>" in volume  # and on the chart
    assert f">{label(today(), 0)[:7]}*</text>" in volume  # the axis label carries the mark
    assert "* marks the period still in progress" in html
    # the values of the months with one unsolved ticket, then 4, 5, 2, and 3 in progress
    values = re.findall(r'</th><td>([^<]*)</td>', volume)
    assert values == ["1"] * 9 + ["4", "5", "2", "3"]


def test_a_kpi_reads_its_own_default_range(recent):
    """Surveys end at M-3: the score's tile is M-3's, and its chart the 12 months up to it (3 with data)."""
    _, _, out = report(recent, "score", "volume")
    html = out.read_text()
    assert tiles(html)["score"]["period"] == label(today(), 3)[:7]
    score = section(html, "score")
    assert re.findall(r'<th scope="row">(\d{4}-\d\d-\d\d)', score) == [label(today(), b) for b in (5, 4, 3)]


def test_user_text_is_escaped(recent):
    _, _, out = report(recent)
    html = out.read_text()
    assert "<script" not in html  # the report has no script of its own, and the title's is text
    assert "Unsolved &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html
    assert "<img" not in html and "Opened &lt;img src=x onerror=alert(1)&gt; but not solved." in html


def test_exactly_one_element_per_kpi_carries_data_kpi(recent):
    _, _, out = report(recent, "--by", "region")
    html = out.read_text()
    names = re.findall(r'data-kpi="([^"]*)"', html)
    assert sorted(names) == sorted(NAMES)
    for name in NAMES:
        assert re.findall(rf'<(\w+)[^>]* data-kpi="{name}"', html) == ["li"]


def test_the_breakdown_by_a_dimension(recent):
    _, _, out = report(recent, "--by", "region")
    html = out.read_text()
    assert tiles(html)["volume"]["value"] == "2"  # the tiles keep the totals
    volume = section(html, "volume")
    table = re.search(r'<table class="breakdown-values">.*?</table>', volume, re.S).group(0)
    rows = {m[0]: m[1:] for m in re.findall(r'<tr><th scope="row">(\w+)</th>' + r'<td>([^<]*)</td>' * 13, table)}
    # M-3: north 2, south 2; M-2: north 2, south 3; M-1: 1 and 1; M (in progress): 1 and 2
    assert rows["north"][-4:] == ("2", "2", "1", "1") and rows["south"][-4:] == ("2", "3", "1", "2")
    assert rows["north"][:9] == ("1",) * 9 and rows["south"][:9] == ("0",) * 9  # the months of one north ticket
    assert f"By region, {label(today(), 1)[:7]}" in volume  # the bars show the headline month
    solved_rate = section(html, "solved_rate")
    assert re.search(r'<th scope="row">south</th>(<td>[^<]*</td>){11}<td>0.0%</td>', solved_rate)  # M-1: 0 of 1
    # surveys have no region: no breakdown, and a note that says why
    assert "No breakdown: region is not a dimension of every dataset these KPIs read." in section(html, "score")


def test_each_section_says_what_the_kpi_is(recent):
    _, _, out = report(recent)
    html = out.read_text()
    unsolved = section(html, "unsolved")
    assert "<code>volume - solved</code>" in unsolved
    assert '<a href="#kpi-volume">volume</a>, <a href="#kpi-solved">solved</a>' in unsolved  # linked
    volume = section(html, "volume")
    for text in ("<p class=\"description\">Tickets opened in the period.</p>", "<dd>support-ops</dd>",
                 "<dd>support</dd>", "<dd>tickets</dd>", "<dd>lower</dd>"):
        assert text in volume
    assert 'role="img" aria-label="Ticket volume, by period" aria-describedby="values-volume"' in volume
    assert 'class="target"' in volume
    assert 'class="warning"' in section(html, "solved_rate")  # solved_rate has a warning line


def test_a_tag_chooses_the_kpis(recent):
    _, output, out = report(recent, "--tag", "quality")
    assert output.endswith("(1 KPI)\n") and list(tiles(out.read_text())) == ["solved_rate"]


def test_the_file_is_self_contained(recent):
    _, _, out = report(recent, "--by", "region")
    html = out.read_text()
    assert not re.search(r"https?://|//[a-z]", html.replace("http://www.w3.org/2000/svg", ""))
    assert not re.search(r"<(link|img|iframe|object|embed|script)\b|@import|url\(", html)
    assert not re.search(r'(src|href)="(?!#)', html)  # links only inside the page
    assert """content="default-src 'none'; style-src 'unsafe-inline'""" in unescape(html)  # loads nothing
    assert "break-inside:avoid" in html and "@media print" in html and "@media (max-width" in html


@pytest.mark.parametrize("args, code, message", [
    (["volum"], 1, "unknown KPI 'volum'; did you mean 'volume'?"),
    (["--tag", "qualty"], 1, "unknown tag 'qualty'; did you mean 'quality'?"),
    (["--by", "regio"], 1, "unknown dimension 'regio'; did you mean 'region'?"),
    (["--where", "regon = 'north'"], 1, "did you mean 'region'?"),
    (["--from", "2025-03-01", "--to", "2025-01-01"], 1, "error["),
    (["volume", "--tag", "quality"], 2, "give KPI names or --tag, not both"),
    (["--grain", "fortnight"], 2, "Invalid value for '--grain'"),
    (["--from", "2025-13-01"], 2, "'2025-13-01' is not a date"),
    (["--timezone", "Europe/Pariss"], 2, "Europe/Paris"),
    (["--by", "region", "--by", "region"], 2, "a dimension is named twice"),
])
def test_bad_input_is_one_message_an_exit_code_and_no_file(recent, args, code, message):
    result_code, output, out = report(recent, *args)
    assert result_code == code, output
    assert message in output
    assert not out.exists()


def test_a_missing_folder_and_a_failed_source(recent, tmp_path):
    result = CliRunner().invoke(main, ["--project", str(recent.root), "report", "--out",
                                       str(tmp_path / "nowhere" / "r.html")])
    assert result.exit_code == 2 and "the folder" in result.output and "does not exist" in result.output
    # the database goes away: the source failed (3), and nothing is written
    database = next(recent.root.rglob("*.duckdb"))
    database.unlink()
    code, output, out = report(recent)
    assert code == 3 and "error[source]" in output and not out.exists()


def test_an_error_leaves_the_previous_file_as_it_was(recent, monkeypatch):
    out = recent.root / "out.html"
    out.write_text("the report of yesterday")
    code, _, _ = report(recent, "volum")
    assert code == 1 and out.read_text() == "the report of yesterday"

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_page.os, "replace", broken)  # the write fails at the last step
    code, output, _ = report(recent)
    assert code == 1 and "No space left on device" in output
    assert out.read_text() == "the report of yesterday"
    assert sorted(p.name for p in recent.root.iterdir() if p.name.startswith(".out")) == []  # no temporary left


def test_an_explicit_range_is_one_query_for_every_kpi(make_project, monkeypatch):
    project = make_project(DEFINITIONS, FIXED_TABLES)
    from kpi_engine.project import Project
    from kpi_engine.report.gather import gather

    calls = []
    original = Project.query
    monkeypatch.setattr(Project, "query", lambda self, kpis, **kw: calls.append(list(kpis)) or original(self, kpis, **kw))
    report = gather(project, NAMES, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 30))
    assert calls == [NAMES]
    assert [p.formatted for p in report.kpis[0].points] == ["3", "1", "2", "4", "1", "2"]
    calls.clear()
    gather(project, NAMES)  # without a range: one query per set of datasets read (each has its own range)
    assert calls == [["volume", "solved_rate", "solved", "unsolved"], ["score"]]


def test_a_quarterly_report(make_project):
    project = make_project(DEFINITIONS, FIXED_TABLES)
    code, _, out = report(project, "--grain", "quarter")
    assert code == 0
    found = tiles(out.read_text())
    # Q2 2025 against Q1: 7 tickets against 6 (+16.7%); 5 of 7 solved against 3 of 6 (+21.4 pp)
    assert (found["volume"]["value"], found["volume"]["period"], found["volume"]["change"]) == (
        "7", "2025-Q2", "+16.7% vs 2025-Q1")
    assert (found["solved_rate"]["value"], found["solved_rate"]["change"]) == ("71.4%", "+21.4 pp vs 2025-Q1")


@pytest.mark.parametrize("value, previous, fmt, expected, text", [
    (0.632, 0.541, "percent", 0.091, "+9.1 pp"),      # points, not a relative change
    (197, 205, "integer", -8 / 205, "-3.9%"),
    (5, 0, "number", None, ""),                       # no ratio to 0
    (0.05, 0, "percent", None, ""),                   # previous 0: none for percents either
    (None, 3, "number", None, ""),
    (99.99, 100, "number", -0.0001, "+0.0%"),         # never -0.0
    (-5, -10, "number", -0.5, "-50.0%"),              # (value - previous) / previous, as kpi check states it
])
def test_the_change_against_the_previous_period(value, previous, fmt, expected, text):
    found = change(value, previous, fmt)
    assert found == pytest.approx(expected) if expected is not None else found is None
    assert change_text(found, fmt) == text


def test_kpi_starts_without_jinja2():
    code = "import sys, kpi_engine.cli.commands; assert 'jinja2' not in sys.modules and 'markupsafe' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_templates_are_package_data():
    """The wheel ships kpi_engine/ whole (pyproject's hatch config), templates included; they are read as resources."""
    import tomllib
    from importlib import resources

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert config["packages"] == ["kpi_engine"] and "exclude" not in config
    files = resources.files("kpi_engine.report").joinpath("templates")
    assert {"report.html.j2", "report.css", "dashboard.js"} <= {f.name for f in files.iterdir()}


def test_grain_all_is_one_value_per_kpi(make_project):
    project = make_project(DEFINITIONS, FIXED_TABLES)
    code, output, out = report(project, "--grain", "all", "--by", "region")
    assert code == 0, output
    html = out.read_text()
    found = tiles(html)
    # 13 tickets (> 3: bad), 8 of them solved (61.5%: warn), scores (3 + 5 + 4 + 4) / 4
    assert {n: (t["value"], t["data_status"], t["period"]) for n, t in found.items()} == {
        "volume": ("13", "bad", "all"), "solved_rate": ("61.5%", "warn", "all"), "solved": ("8", "ok", "all"),
        "unsolved": ("5", "none", "all"), "score": ("4.0", "ok", "all")}
    assert found["volume"]["change"] == "no change to show"
    assert 'class="chart"' not in html and 'class="spark"' not in html  # one value: nothing to draw a line through
    volume = section(html, "volume")
    assert re.findall(r'<tr><th scope="row">(\w+)</th><td>(\d+)</td></tr>', volume) == [("north", "7"), ("south", "6")]


def test_each_kpi_reports_its_own_default_range_also_under_a_filter(tmp_path):
    """Rows on 5 January (k = a) and 5 March (k = b): a KPI filtered to k = a has January alone as its
    range (as `kpi run` shows it), its unfiltered neighbour January to March; a where inside the aggregate
    does not narrow the range."""
    import duckdb

    import kpi_engine
    from kpi_engine.report.gather import gather

    with duckdb.connect(str(tmp_path / "d.duckdb")) as con:
        con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (TIMESTAMP '2025-01-05', 'a'), "
                    "(TIMESTAMP '2025-03-05', 'b')) AS v(ts, k)")
    (tmp_path / "kpi.yml").write_text("sources:\n  default:\n    connector: duckdb\n    database: d.duckdb\n")
    (tmp_path / "definitions").mkdir()
    (tmp_path / "definitions" / "t.yml").write_text(
        "datasets:\n  t: {table: t, time: ts}\nkpis:\n"
        "  all_rows: {dataset: t, formula: count()}\n"
        "  early_only: {dataset: t, formula: count(), filter: \"k = 'a'\"}\n"
        "  early_counted: {dataset: t, formula: \"count(where k = 'a')\"}\n")
    report = gather(kpi_engine.load(tmp_path), ["all_rows", "early_only", "early_counted"])
    points = {k.name: [(p.period, p.value) for p in k.points] for k in report.kpis}
    assert points == {
        "all_rows": [("2025-01-01", 1), ("2025-02-01", 0), ("2025-03-01", 1)],
        "early_only": [("2025-01-01", 1)],
        "early_counted": [("2025-01-01", 1), ("2025-02-01", 0), ("2025-03-01", 0)],
    }
