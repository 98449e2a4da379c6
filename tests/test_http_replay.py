"""A GET /query sent again byte for byte is answered from the bytes of its last cached answer, without
routing it through FastAPI (kpi_engine.http.replay), and only while that answer is still right: the same
token, the same definitions, the result fresh in the cache. Numbers: tests/support/http_project.py."""

from __future__ import annotations

import sqlite3

import pytest

import kpi_engine.http.app as app_module
from support.http_project import ALL_TOKEN, DEFINITIONS, EU_TOKEN, TABLES, TOKENS, bearer, client

URL = "/query?kpi=volume&grain=all"


@pytest.fixture
def routed(monkeypatch):
    """How many requests went through the route (the replay answers the others)."""
    calls = []
    lookup = app_module._lookup

    def counted(*args, **kwargs):
        calls.append(args[1].kpis)
        return lookup(*args, **kwargs)

    monkeypatch.setattr(app_module, "_lookup", counted)
    return calls


def test_the_third_identical_request_is_replayed_byte_for_byte(make_project, routed):
    api = client(make_project(DEFINITIONS, TABLES))
    first, second, third = (api.get(URL) for _ in range(3))
    assert len(routed) == 2  # computed, then found in the cache (and kept); the third is not routed
    assert [r.json()["meta"]["cached"] for r in (first, second, third)] == [False, True, True]
    assert third.content == second.content and third.json()["rows"] == [{"volume": 5}]
    assert third.headers["content-type"] == second.headers["content-type"] == "application/json"
    assert third.headers["content-length"] == str(len(third.content))


def test_csv_and_status_are_replayed_as_they_were_written(make_project, routed):
    api = client(make_project(DEFINITIONS, TABLES))
    url = "/query?kpi=resolution_rate&grain=month&status=true&format=csv"
    answers = [api.get(url) for _ in range(3)]
    assert len(routed) == 2
    assert answers[2].content == answers[1].content == answers[0].content
    assert answers[2].headers["content-type"] == "text/csv; charset=utf-8"
    # Jan 1/2 = 0.5 (bad, below warning 0.55), Feb 2/3 (ok)
    assert answers[2].text.splitlines()[1:] == ["2025-01-01,0.5,bad", "2025-02-01,0.6666666666666666,ok"]


def test_a_query_string_written_differently_goes_through_the_route(make_project, routed):
    api = client(make_project(DEFINITIONS, TABLES))
    for url in (URL, URL, "/query?grain=all&kpi=volume"):
        assert api.get(url).json()["rows"] == [{"volume": 5}]
    assert len(routed) == 3


def test_another_token_never_gets_the_answer_kept_for_one(make_project, routed):
    api = client(make_project(DEFINITIONS, TABLES, extra_config=TOKENS))
    eu, everything = bearer(EU_TOKEN), bearer(ALL_TOKEN)
    for _ in range(3):  # kept for the EU token: region = 'EU' is 3 tickets
        assert api.get(URL, headers=eu).json()["rows"] == [{"volume": 3}]
    assert len(routed) == 2
    # the same URL with another token, with none or with a wrong one: routed, authenticated, its own answer
    assert api.get(URL, headers=everything).json()["rows"] == [{"volume": 5}]
    assert api.get(URL).status_code == 401
    assert api.get(URL, headers=bearer(EU_TOKEN[:-1] + "x")).status_code == 401
    assert len(routed) == 3  # the 401s are refused before the route's lookup


def test_a_changed_database_file_is_not_replayed(make_project, routed):
    project = make_project(DEFINITIONS, TABLES, engine="sqlite")
    api = client(project)
    for _ in range(3):
        api.get(URL)
    with sqlite3.connect(project.root / "data.sqlite") as con:
        con.execute("INSERT INTO tickets VALUES (6, '2025-02-20', 'US', 'chat', 'open')")
    body = api.get(URL).json()
    assert (body["rows"], body["meta"]["cached"]) == ([{"volume": 6}], False)


def test_an_expired_result_is_not_replayed(make_project):
    api = client(make_project(DEFINITIONS, TABLES, extra_config="serve:\n  cache_ttl: 10\n"))
    now = [1000.0]
    api.app.state.cache.clock = lambda: now[0]
    assert [api.get(URL).json()["meta"]["cached"] for _ in range(3)] == [False, True, True]
    now[0] += 10.5
    assert api.get(URL).json()["meta"]["cached"] is False


def test_edited_definitions_are_not_replayed(make_project):
    project = make_project(DEFINITIONS, TABLES)
    api = client(project)
    assert [api.get(URL).json()["rows"] for _ in range(3)] == [[{"volume": 5}]] * 3
    main = project.root / "definitions" / "main.yml"
    main.write_text(main.read_text().replace("formula: count()\n    format: integer",
                                             "formula: \"count(where status = 'resolved')\"\n    format: integer"))
    body = api.get(URL).json()  # resolved tickets: 1, 3, 4
    assert (body["rows"], body["meta"]["cached"]) == ([{"volume": 3}], False)


def test_a_post_is_never_replayed(make_project, routed):
    api = client(make_project(DEFINITIONS, TABLES))
    for _ in range(3):
        assert api.post("/query", json={"kpis": ["volume"], "grain": "all"}).json()["rows"] == [{"volume": 5}]
    assert len(routed) == 3


def test_a_mounted_app_replays_under_its_prefix(make_project, routed):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    host = FastAPI()
    host.mount("/kpi", client(make_project(DEFINITIONS, TABLES)).app)
    api = TestClient(host, raise_server_exceptions=False)
    answers = [api.get("/kpi" + URL) for _ in range(3)]
    assert [a.json()["meta"]["cached"] for a in answers] == [False, True, True]
    assert len(routed) == 2 and answers[2].content == answers[1].content
