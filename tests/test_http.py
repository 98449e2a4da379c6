"""The HTTP API in process: every endpoint and its shape, every error status, the limits, the cache, CORS,
and the app mounted in another one. The project and its hand-counted numbers: tests/support/http_project.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import time
from zoneinfo import ZoneInfo

import duckdb
import pytest
from fastapi import FastAPI

import kpi_engine
from kpi_engine.cli.output import render_result
from kpi_engine.http.cache import ResultCache
from kpi_engine.result import Result
from support.http_project import D, DEFINITIONS, TABLES, client

NO_POSITION = {"file": None, "line": None, "column": None}


@pytest.fixture
def project(make_project):
    return make_project(DEFINITIONS, TABLES)


@pytest.fixture
def api(project):
    return client(project)


def error(code: str, message: str, **position) -> dict:
    return {"error": {"code": code, "message": message, **NO_POSITION, **position}}


# ======================================================================== endpoints
def test_health(api):
    response = api.get("/health")
    assert response.status_code == 200
    # four KPIs are listed (emails is hidden); no "errors" while all is well
    assert response.json() == {"status": "ok", "kpis": 4, "sources": {"default": "ok"}}


def test_kpis_lists_the_metadata_of_each_kpi_not_hidden(api):
    response = api.get("/kpis")
    assert response.status_code == 200
    listed = response.json()
    assert [k["name"] for k in listed] == ["volume", "resolution_rate", "signups", "per_signup"]
    assert listed[1] == {
        "name": "resolution_rate", "title": "Resolution rate", "description": "Share of tickets resolved.",
        "format": "percent", "unit": None, "decimals": 1, "direction": "higher", "target": 0.6, "warning": 0.55,
        "owner": "support-ops", "tags": ["support", "quality"], "hidden": False, "dataset": "tickets",
        "dimensions": ["channel", "region"]}
    # per_signup reads tickets and customers: only region is on both
    assert listed[3]["dimensions"] == ["region"] and listed[3]["dataset"] is None
    assert [k["name"] for k in api.get("/kpis?all=true").json()][-1] == "emails"


def test_one_kpi_has_its_formula_filter_and_the_kpis_it_uses(api):
    response = api.get("/kpis/per_signup")
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["formula"], body["filter"], body["uses"], body["dimensions"]) == (
        "Tickets per signup", "volume / signups", None, ["volume", "signups"], ["region"])
    assert set(body) == {"name", "title", "description", "format", "unit", "decimals", "direction", "target",
                         "warning", "owner", "tags", "hidden", "dataset", "dimensions", "formula", "filter", "uses"}


def test_dimensions_and_the_kpis_each_applies_to(api):
    assert api.get("/dimensions").json() == [
        {"name": "channel", "datasets": ["tickets"], "kpis": ["volume", "resolution_rate"]},
        {"name": "region", "datasets": ["customers", "tickets"],
         "kpis": ["volume", "resolution_rate", "signups", "per_signup"]}]


def test_query_by_get(api):
    response = api.get("/query?kpi=volume&kpi=resolution_rate")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {
        "columns": ["period", "volume", "resolution_rate"],
        "rows": [{"period": "2025-01-01", "volume": 2, "resolution_rate": 0.5},
                 {"period": "2025-02-01", "volume": 3, "resolution_rate": 2 / 3}],
        "meta": {"kpis": {
            "volume": {"title": "Volume", "format": "integer", "unit": None, "decimals": None, "target": None,
                       "warning": None, "direction": "higher"},
            "resolution_rate": {"title": "Resolution rate", "format": "percent", "unit": None, "decimals": 1,
                                "target": 0.6, "warning": 0.55, "direction": "higher"}},
            "partial_periods": [], "cached": False}}


def test_query_options(api):
    # EU tickets by channel over everything: chat {3}, email {1, 5}
    response = api.get("/query", params={"kpi": "volume", "by": "channel", "grain": "all", "where": "region = 'EU'"})
    assert response.json()["rows"] == [{"channel": "chat", "volume": 1}, {"channel": "email", "volume": 2}]
    # February only, by two dimensions: EU chat {3}, EU email {5}, US email {4}
    response = api.get("/query?kpi=volume&by=region&by=channel&from=2025-02-01&to=2025-02-28")
    assert response.json()["rows"] == [
        {"period": "2025-02-01", "region": "EU", "channel": "chat", "volume": 1},
        {"period": "2025-02-01", "region": "EU", "channel": "email", "volume": 1},
        {"period": "2025-02-01", "region": "US", "channel": "email", "volume": 1}]
    # a derived KPI: Jan 2 tickets / 2 signups, Feb 3 / 1
    assert api.get("/query?kpi=per_signup").json()["rows"] == [
        {"period": "2025-01-01", "per_signup": 1.0}, {"period": "2025-02-01", "per_signup": 3.0}]


def test_rows_are_those_of_kpi_run_format_json(api, project):
    body = api.get("/query?kpi=volume&kpi=resolution_rate&by=channel").json()
    result = project.query(["volume", "resolution_rate"], by=["channel"])
    assert body["rows"] == json.loads(render_result(result, "json"))


def test_status_adds_a_column_after_each_kpi_with_a_target(api):
    body = api.get("/query?kpi=volume&kpi=resolution_rate&status=true").json()
    assert body["columns"] == ["period", "volume", "resolution_rate", "resolution_rate__status"]
    # 0.5 is below the warning 0.55: bad; 2/3 meets the target 0.6: ok
    assert [row["resolution_rate__status"] for row in body["rows"]] == ["bad", "ok"]


def test_csv(api):
    response = api.get("/query?kpi=volume&kpi=per_signup&format=csv")
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text == "period,volume,per_signup\n2025-01-01,2,1.0\n2025-02-01,3,3.0\n"
    # a null is an empty field: EU per_signup in February is 2 / 0
    response = api.post("/query", json={"kpis": ["per_signup"], "where": "region = 'EU'", "format": "csv"})
    assert response.text == "period,per_signup\n2025-01-01,1.0\n2025-02-01,\n"


def test_post_query_is_get_query_as_a_body(api):
    body = {"kpis": ["volume"], "grain": "all", "by": ["region"], "where": "channel = 'email'",
            "from": "2025-01-01", "to": "2025-12-31", "status": False, "format": "json"}
    response = api.post("/query", json=body)
    assert response.status_code == 200
    # email tickets: EU {1, 5}, US {4}
    assert response.json()["rows"] == [{"region": "EU", "volume": 2}, {"region": "US", "volume": 1}]
    same = api.get("/query?kpi=volume&grain=all&by=region&where=channel = 'email'&from=2025-01-01&to=2025-12-31")
    # the same query: the same answer, from the cache this time
    assert same.json() == {**response.json(), "meta": {**response.json()["meta"], "cached": True}}


def test_compile(api, project):
    response = api.post("/compile", json={"kpis": ["volume"], "dialect": "snowflake", "grain": "year"})
    assert response.status_code == 200
    assert response.json() == {"sql": project.compile(["volume"], dialect="snowflake", grain="year")}
    assert response.json()["sql"] != api.post("/compile", json={"kpis": ["volume"]}).json()["sql"]


#: Three events at UTC instants (naive timestamps, read as UTC). In America/Sao_Paulo (UTC-3 all year since
#: 2019) the one at 2025-02-01 01:00 UTC is 2025-01-31 22:00: January has 1 event in UTC and 2 there.
EVENTS = """
datasets:
  events:
    table: events
    time: at
kpis:
  happenings:
    dataset: events
    formula: count()
"""
EVENT_ROWS = {"events": (["id", "at"], [(1, dt.datetime(2025, 1, 15, 12)), (2, dt.datetime(2025, 2, 1, 1)),
                                        (3, dt.datetime(2025, 2, 10, 12))])}
#: The instant "now" is in the test below: 2025-02-01 in UTC, still 2025-01-31 in Sao Paulo.
NOW = dt.datetime(2025, 2, 1, 1, 30, tzinfo=dt.timezone.utc)


def _today_at_now(self, zone: str | None = None) -> dt.date:
    return NOW.astimezone(ZoneInfo(zone or "UTC")).date()


def test_a_query_in_another_time_zone(make_project, monkeypatch):
    project = make_project(EVENTS, EVENT_ROWS)
    monkeypatch.setattr(type(project), "today", _today_at_now)
    api = client(project)
    utc = api.get("/query?kpi=happenings").json()
    assert utc["rows"] == [{"period": "2025-01-01", "happenings": 1}, {"period": "2025-02-01", "happenings": 2}]
    assert utc["meta"]["partial_periods"] == ["2025-02-01"]
    local = api.get("/query?kpi=happenings&timezone=America/Sao_Paulo").json()
    assert local["rows"] == [{"period": "2025-01-01", "happenings": 2}, {"period": "2025-02-01", "happenings": 1}]
    assert local["meta"]["partial_periods"] == ["2025-01-01"]  # the month holding "now" in that zone
    assert local["meta"]["cached"] is False  # another zone is another query
    posted = api.post("/query", json={"kpis": ["happenings"], "timezone": "America/Sao_Paulo"}).json()
    assert posted["rows"] == local["rows"]
    compiled = api.post("/compile", json={"kpis": ["happenings"], "timezone": "America/Sao_Paulo"}).json()["sql"]
    assert compiled == project.compile(["happenings"], timezone="America/Sao_Paulo")
    assert compiled != project.compile(["happenings"])


@pytest.mark.parametrize("method, path, sent", [
    ("GET", "/query?kpi=happenings&timezone=America/Sao_Paul", None),
    ("POST", "/query", {"kpis": ["happenings"], "timezone": "America/Sao_Paul"}),
    ("POST", "/compile", {"kpis": ["happenings"], "timezone": "America/Sao_Paul"}),
])
def test_a_bad_time_zone_is_400_naming_the_parameter(make_project, method, path, sent):
    api = client(make_project(EVENTS, EVENT_ROWS))
    response = api.request(method, path, json=sent)
    assert (response.status_code, response.json()) == (400, error(
        "bad-timezone", "timezone: unknown time zone 'America/Sao_Paul'; did you mean 'America/Sao_Paulo'?"))


def test_the_period_in_progress_is_marked(api, project, monkeypatch):
    monkeypatch.setattr(type(project), "today", lambda self, *zone: D(2025, 2, 14))
    assert api.get("/query?kpi=volume").json()["meta"]["partial_periods"] == ["2025-02-01"]
    assert api.get("/query?kpi=volume&grain=all").json()["meta"]["partial_periods"] == []


# =========================================================================== errors
@pytest.mark.parametrize("url, status, body", [
    ("/query?kpi=volum", 404, error("unknown-kpi", "unknown KPI 'volum'; did you mean 'volume'?")),
    ("/kpis/volum", 404, error("unknown-kpi", "unknown KPI 'volum'; did you mean 'volume'?")),
    ("/query?kpi=volume&where=regon = 'EU'", 400, error(
        "unknown-dimension", "unknown dimension 'regon' on dataset 'tickets'; did you mean 'region'?",
        file="--where", line=1, column=1)),
    ("/query?kpi=volume&where=region = ", 400, error("syntax", "missing value after an operator",
                                                     file="--where", line=1, column=8)),
    ("/query?kpi=volume&grain=mnth", 400, error(
        "bad-grain", "unknown grain 'mnth'; did you mean 'month'? (one of day, week, month, quarter, year, "
        "fiscal_quarter, fiscal_year, all)")),
    ("/query?kpi=volume&from=2025-13-01", 400, error("bad-parameter", "from '2025-13-01' is not a date; write it "
                                                                      "as YYYY-MM-DD")),
    ("/query?kpi=volume&from=2025-03-01&to=2025-01-01", 400, error("bad-range", "--from 2025-03-01 is after --to "
                                                                                "2025-01-01")),
    ("/query?kpi=volume&status=maybe", 400, error("bad-parameter", "status must be true or false; got 'maybe'")),
    ("/query?kpi=volume&format=xml", 400, error("bad-parameter", "format must be json or csv; got 'xml'")),
    ("/query", 400, error("bad-parameter", "kpi is required: name at least one KPI")),
    ("/query?kpis=volume", 400, error("bad-parameter", "unknown parameter 'kpis'; did you mean 'kpi'?")),
    ("/kpis?al=true", 400, error("bad-parameter", "unknown parameter 'al'; did you mean 'all'?")),
    ("/dimensions?kpi=volume", 400, error("bad-parameter", "unknown parameter 'kpi' (expected all)")),
    ("/kpis/volume?all=true", 400, error("bad-parameter", "unknown parameter 'all' (this endpoint takes none)")),
    ("/nothing", 404, error("not-found", "no such endpoint: GET /nothing")),
])
def test_errors_of_get_requests(api, url, status, body):
    response = api.get(url)
    assert (response.status_code, response.json()) == (status, body)


def test_an_unknown_dimension_in_by_is_400(api):
    response = api.get("/query?kpi=volume&by=plan")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown-dimension"
    assert response.json()["error"]["message"].startswith("unknown dimension 'plan' on dataset 'tickets'")


@pytest.mark.parametrize("path, sent, status, body", [
    ("/query", {"kpi": ["volume"]}, 400,
     error("bad-body", "unknown field 'kpi' in the body; did you mean 'kpis'?")),
    ("/query", {"kpis": []}, 400, error("bad-body", "kpis must not be empty: name at least one KPI")),
    ("/query", {"kpis": "volume"}, 400, error("bad-body", "kpis must be a list; got 'volume'")),
    ("/query", ["volume"], 400, error("bad-body", "the body must be a JSON object, sent as application/json")),
    ("/query", {"kpis": ["volume"], "from": "yesterday"}, 400,
     error("bad-body", "from 'yesterday' is not a date; write it as YYYY-MM-DD")),
    ("/compile", {"kpis": ["volume"], "dialect": "cobol"}, 400, None),
    ("/compile", {"kpis": ["sign_ups"]}, 404, error("unknown-kpi", "unknown KPI 'sign_ups'; did you mean 'signups'?")),
])
def test_errors_of_bodies(api, path, sent, status, body):
    response = api.post(path, json=sent)
    assert response.status_code == status
    if body is None:
        assert response.json()["error"]["code"] == "dialect"
    else:
        assert response.json() == body


def test_a_body_that_is_not_json(api):
    response = api.post("/query", content=b'{"kpis": [', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad-body"
    assert response.json()["error"]["message"].startswith("the body is not valid JSON")


def test_a_wrong_method_is_405_in_the_same_shape(api):
    response = api.delete("/query")
    assert (response.status_code, response.json()) == (
        405, error("method-not-allowed", "DELETE is not allowed on /query"))


def test_a_source_that_fails_is_503_and_shows_on_health(project):
    (project.root / "data.duckdb").unlink()
    api = client(project)
    response = api.get("/query?kpi=volume")
    assert response.status_code == 503
    assert response.json() == error("source", "source 'default': database file data.duckdb does not exist")
    health = api.get("/health").json()
    assert health["status"] == "degraded"
    assert health["sources"] == {"default": "source 'default': database file data.duckdb does not exist"}
    assert health["errors"] == [{"code": "source", "message": "source 'default': database file data.duckdb does "
                                 "not exist", **NO_POSITION}]


def test_a_query_over_the_time_limit_is_504(make_project, monkeypatch):
    project = make_project(DEFINITIONS, TABLES, extra_config="serve:\n  timeout: 2.5\n")
    seen = {}

    def too_slow(self, kpis, **options):
        seen.update(options)
        raise kpi_engine.QueryTimeoutError("the query ran over 2.5 s and was cancelled")

    monkeypatch.setattr(kpi_engine.Project, "query", too_slow)
    response = client(project).get("/query?kpi=volume")
    assert (response.status_code, response.json()) == (
        504, error("timeout", "the query ran over 2.5 s and was cancelled"))
    assert seen["timeout"] == 2.5  # serve.timeout is handed to Project.query


#: A dataset of 10^10 rows per engine: minutes to hours without the time limit.
ENDLESS = {
    "duckdb": "select date '2025-01-01' as day, a.range + b.range as x from range(100000) a, range(100000) b",
    "sqlite": "with recursive n(x) as (select 0 union all select x + 1 from n where x < 10000000000) "
              "select '2025-01-01' as day, x from n",
}


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_a_slow_query_is_cancelled_at_the_time_limit(make_project, engine):
    slow = DEFINITIONS.replace("kpis:\n", f"""  pairs:
    sql: "{ENDLESS[engine]}"
    time: day
kpis:
  pairs_total: {{dataset: pairs, formula: sum(x)}}
""", 1)
    api = client(make_project(slow, TABLES, engine=engine, extra_config="serve:\n  timeout: 0.5\n"))
    started = time.monotonic()
    response = api.get("/query?kpi=pairs_total&grain=all")
    assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
    assert time.monotonic() - started < 20
    before = time.process_time()  # the statement is stopped, not abandoned: no engine thread keeps a core busy
    time.sleep(1.5)
    assert time.process_time() - before < 0.3
    assert api.get("/query?kpi=volume&grain=all").json()["rows"] == [{"volume": 5}]  # the server still answers


def test_an_unexpected_error_is_500_with_its_traceback_in_the_log_only(api, monkeypatch, caplog):
    def broken(self, kpis, **options):
        raise RuntimeError("internal detail: /srv/secret/path")

    monkeypatch.setattr(kpi_engine.Project, "query", broken)
    with caplog.at_level(logging.ERROR, logger="kpi_engine.http"):
        response = api.get("/query?kpi=volume")
    assert (response.status_code, response.json()) == (
        500, error("internal", "internal error: the server's log has the details"))
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "internal detail: /srv/secret/path" in caplog.text and "Traceback" in caplog.text


def test_health_answers_200_even_when_it_fails(api, monkeypatch, caplog):
    def broken(self, source="default"):
        raise RuntimeError("connection pool exploded")

    monkeypatch.setattr(kpi_engine.Project, "connection", broken)
    with caplog.at_level(logging.ERROR, logger="kpi_engine.http"):
        response = api.get("/health")
    assert (response.status_code, response.json()) == (200, {
        "status": "degraded", "kpis": 4, "sources": {"default": "source 'default': failed (RuntimeError)"},
        "errors": [{"code": "source", "message": "source 'default': failed (RuntimeError)", **NO_POSITION}]})
    monkeypatch.setattr("kpi_engine.http.app._health", lambda live, authorization: 1 / 0)
    response = api.get("/health")
    assert (response.status_code, response.json()) == (200, {
        "status": "degraded", "kpis": 0, "sources": {},
        "errors": [{"code": "internal", "message": "internal error: the server's log has the details", **NO_POSITION}]})
    assert "ZeroDivisionError" in caplog.text


def test_no_error_is_a_422(api):
    for response in (api.get("/query?kpi=volume&from=x"), api.post("/query", json={"nothing": 1}),
                     api.post("/compile", json=[]), api.get("/kpis?all=perhaps")):
        assert response.status_code == 400 and set(response.json()) == {"error"}


# =========================================================================== limits
def test_max_rows_is_413_before_anything_is_sent(make_project):
    api = client(make_project(DEFINITIONS, TABLES, extra_config="serve:\n  max_rows: 1\n"))
    response = api.get("/query?kpi=volume")  # two months: two rows
    assert (response.status_code, response.json()) == (413, error(
        "too-many-rows", "the result has 2 rows; the limit is 1 (serve.max_rows): narrow the query (a coarser grain, "
        "fewer by dimensions, a shorter range or a where)"))
    assert api.get("/query?kpi=volume&grain=all").json()["rows"] == [{"volume": 5}]


def test_max_kpis_is_400(make_project):
    api = client(make_project(DEFINITIONS, TABLES, extra_config="serve:\n  max_kpis: 2\n"))
    response = api.get("/query?kpi=volume&kpi=signups&kpi=per_signup")
    assert (response.status_code, response.json()) == (400, error(
        "too-many-kpis", "3 KPIs in one query; the limit is 2 (serve.max_kpis): split the query"))
    assert api.post("/compile", json={"kpis": ["volume", "signups", "per_signup"]}).status_code == 400
    assert api.get("/query?kpi=volume&kpi=signups").status_code == 200


def test_a_body_over_the_limit_is_413(project):
    api = client(project, max_body_bytes=1000)
    padded = {"kpis": ["volume"], "where": "region = '" + "x" * 2000 + "'"}
    response = api.post("/query", json=padded)
    assert (response.status_code, response.json()) == (413, error(
        "body-too-large", "the request body is over 1000 bytes"))
    assert api.post("/query", json={"kpis": ["volume"]}).status_code == 200


# ============================================================================ cache
def test_a_repeated_query_is_answered_from_the_cache(api):
    first = api.get("/query?kpi=volume&grain=all").json()
    again = api.get("/query?kpi=volume&grain=all").json()
    assert (first["meta"]["cached"], again["meta"]["cached"]) == (False, True)
    assert first["rows"] == again["rows"] == [{"volume": 5}]
    # another query, or the same one shown differently, reuses the same result where it can
    assert api.get("/query?kpi=volume&grain=year").json()["meta"]["cached"] is False
    assert api.post("/query", json={"kpis": ["volume"], "grain": "all", "status": True}).json()["meta"]["cached"]


def test_cache_ttl_0_turns_the_cache_off(make_project):
    api = client(make_project(DEFINITIONS, TABLES, extra_config="serve:\n  cache_ttl: 0\n"))
    assert [api.get("/query?kpi=volume").json()["meta"]["cached"] for _ in range(2)] == [False, False]


def test_an_entry_expires_after_cache_ttl(make_project):
    project = make_project(DEFINITIONS, TABLES, extra_config="serve:\n  cache_ttl: 10\n")
    api = client(project)
    cache = api.app.state.cache
    now = [1000.0]
    cache.clock = lambda: now[0]
    api.get("/query?kpi=volume")
    now[0] += 9.5
    assert api.get("/query?kpi=volume").json()["meta"]["cached"] is True
    now[0] += 1.0  # 10.5 s after it was stored
    assert api.get("/query?kpi=volume").json()["meta"]["cached"] is False


def test_a_changed_sqlite_file_invalidates_its_results(make_project):
    project = make_project(DEFINITIONS, TABLES, engine="sqlite")
    api = client(project)
    assert api.get("/query?kpi=volume&grain=all").json()["rows"] == [{"volume": 5}]
    with sqlite3.connect(project.root / "data.sqlite") as con:
        con.execute("INSERT INTO tickets VALUES (6, '2025-02-20', 'US', 'chat', 'open')")
    body = api.get("/query?kpi=volume&grain=all").json()
    assert (body["rows"], body["meta"]["cached"]) == ([{"volume": 6}], False)
    assert api.get("/query?kpi=volume&grain=all").json()["meta"]["cached"] is True


def test_a_replaced_duckdb_file_is_reopened(project):
    api = client(project)
    assert api.get("/query?kpi=volume&grain=all").json()["rows"] == [{"volume": 5}]
    database = project.root / "data.duckdb"
    copy = project.root / "new.duckdb"
    with duckdb.connect(str(copy)) as con:  # a new file, renamed over the served one (as an ETL would)
        con.execute("CREATE TABLE tickets AS SELECT * FROM (VALUES (1, DATE '2025-01-05', 'EU', 'email', 'open')) "
                    "AS t(id, created_at, region, channel, status)")
        con.execute("CREATE TABLE customers AS SELECT * FROM (VALUES (1, DATE '2025-01-02', 'EU')) "
                    "AS t(id, signup_at, region)")
    copy.replace(database)
    body = api.get("/query?kpi=volume&grain=all").json()
    assert (body["rows"], body["meta"]["cached"]) == ([{"volume": 1}], False)


def test_the_cache_is_a_bounded_lru():
    cache = ResultCache(max_entries=2, max_cells=100)
    results = {name: Result(["v"], [(i,)], "") for i, name in enumerate("abcd")}
    for name in "ab":
        cache.put(name, results[name], 60, ())
    assert cache.get("a", 60, ()) is results["a"]  # a is now the most recently used
    cache.put("c", results["c"], 60, ())
    assert [cache.get(k, 60, ()) is not None for k in "abc"] == [True, False, True]
    big = Result(["v"], [(i,) for i in range(60)], "")  # 60 cells: with c, d and a over 100, a goes
    cache.put("d", results["d"], 60, ())
    cache.put("big", big, 60, ())
    assert len(cache) == 2 and cache.get("big", 60, ()) is big
    cache.put("huge", Result(["v"], [(i,) for i in range(101)], ""), 60, ())  # never fits: not kept
    assert cache.get("huge", 60, ()) is None


# ============================================================================= CORS
def test_cors_is_off_without_origins(api):
    response = api.get("/health", headers={"Origin": "https://dash.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_the_listed_origins_only(make_project):
    api = client(make_project(DEFINITIONS, TABLES, extra_config="serve:\n  cors_origins: [https://dash.example]\n"))
    allowed = api.get("/kpis", headers={"Origin": "https://dash.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
    other = api.get("/kpis", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    response = api.options("/query", headers={"Origin": "https://dash.example", **preflight})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "https://dash.example"
    response = api.options("/query", headers={"Origin": "https://evil.example", **preflight})
    assert response.status_code == 405 and response.json()["error"]["code"] == "method-not-allowed"


# ========================================================================= mounting
def test_the_app_mounts_under_a_prefix(project):
    host = FastAPI()

    @host.get("/")
    def home() -> dict:
        return {"host": True}

    host.mount("/kpi", client(project).app)
    from fastapi.testclient import TestClient

    api = TestClient(host, raise_server_exceptions=False)
    assert api.get("/").json() == {"host": True}
    assert api.get("/kpi/health").json()["status"] == "ok"
    assert api.get("/kpi/query?kpi=volume&grain=all").json()["rows"] == [{"volume": 5}]
    assert api.get("/kpi/query?kpi=volum").json() == error("unknown-kpi", "unknown KPI 'volum'; did you mean 'volume'?")
    assert api.get("/kpi/nothing").json()["error"]["code"] == "not-found"
    assert api.get("/kpi/openapi.json").json()["servers"] == [{"url": "/kpi"}]
