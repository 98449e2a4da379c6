"""A plain GET /query is answered without FastAPI's routing (kpi_engine.http.plain_get), with the same answer
the route gives; anything not plain is left to the route. Numbers: tests/support/http_project.py."""

from __future__ import annotations

import datetime as dt
import re

import pytest

import kpi_engine.http.app as app_module
from kpi_engine.http.plain_get import plain_query
from support.http_project import DEFINITIONS, EU_TOKEN, TABLES, TOKENS, bearer, client


def test_a_plain_query_string_is_read_as_the_route_reads_it():
    asked = plain_query(b"kpi=volume&kpi=signups&by=region&grain=week&from=2025-01-01&to=2025-03-31"
                        b"&timezone=Europe/Lisbon&where=channel%20%3D%20%27email%27&status=true&format=csv")
    assert asked is not None
    assert (asked.kpis, asked.by, asked.grain, asked.from_, asked.to, asked.timezone, asked.where, asked.status,
            asked.format) == (["volume", "signups"], ["region"], "week", dt.date(2025, 1, 1),
                              dt.date(2025, 3, 31), "Europe/Lisbon", "channel = 'email'", True, "csv")
    defaults = plain_query(b"kpi=volume")
    assert (defaults.grain, defaults.by, defaults.where, defaults.from_, defaults.to, defaults.timezone,
            defaults.status, defaults.format) == ("month", [], None, None, None, None, False, "json")


@pytest.mark.parametrize("query_string", [
    b"", b"grain=month", b"kpi=", b"kpi=volume&where=", b"kpi=volume&grain=month&grain=week",
    b"kpi=volume&from=2025-1-1", b"kpi=volume&from=2025-02-30", b"kpi=volume&to=20250101",
    b"kpi=volume&status=1", b"kpi=volume&status=True", b"kpi=volume&format=xml", b"kpi=volume&limit=3",
    b"kpi=volume&from=%EF%BC%92025-01-01",  # a full-width digit: a date only by Unicode's reading
])
def test_anything_not_plain_is_left_to_the_route(query_string):
    assert plain_query(query_string) is None


@pytest.fixture
def routed(monkeypatch):
    """The requests that went through the route: its dependency checks their parameter names."""
    calls = []
    check = app_module._check_parameter_names

    def counted(request):
        calls.append(request.url.query)
        return check(request)

    monkeypatch.setattr(app_module, "_check_parameter_names", counted)
    return calls


def test_a_plain_request_never_reaches_the_route(make_project, routed):
    api = client(make_project(DEFINITIONS, TABLES))
    answer = api.get("/query?kpi=volume&grain=all")
    assert answer.status_code == 200 and answer.json()["rows"] == [{"volume": 5}]
    assert routed == []
    assert api.get("/query?kpi=volume&grain=all&status=0").json()["rows"] == [{"volume": 5}]
    assert routed == ["kpi=volume&grain=all&status=0"]  # not plain: the route's


@pytest.mark.parametrize("query", [
    "kpi=volume&kpi=resolution_rate&grain=month&from=2025-01-01&to=2025-02-28&status=true",
    "kpi=volume&by=channel&grain=all&where=region%20%3D%20%27EU%27",
    "kpi=volume&grain=month&format=csv",
    "kpi=volumes&grain=month",  # unknown KPI: 404 with the nearest name
    "kpi=volume&where=regio%20%3D%20%27EU%27",  # unknown dimension in where: 400 with its position
    "kpi=volume&grain=fortnight",
    "kpi=volume&timezone=America/Sao_Paul",
])
def test_the_plain_path_answers_as_the_route_does(make_project, query):
    """The same query, once plain and once spelt so that only the route reads it (status=0 is status=false,
    and 'false' is the default), on two fresh apps: same status, same body."""
    plain = client(make_project(DEFINITIONS, TABLES)).get(f"/query?{query}")
    routed_query = query if "status=" in query else f"{query}&status=0"
    routed_query = routed_query.replace("status=true", "status=1")
    routed = client(make_project(DEFINITIONS, TABLES)).get(f"/query?{routed_query}")
    assert plain.status_code == routed.status_code
    assert plain.headers["content-type"] == routed.headers["content-type"]
    assert plain.content == routed.content


def test_tokens_and_row_filters_hold_on_the_plain_path(make_project, routed):
    api = client(make_project(DEFINITIONS, TABLES, extra_config=TOKENS))
    eu = api.get("/query?kpi=volume&grain=all", headers=bearer(EU_TOKEN))
    assert eu.status_code == 200 and eu.json()["rows"] == [{"volume": 3}]  # EU rows only: tickets 1, 3, 5
    assert api.get("/query?kpi=volume&grain=all&where=region%20%3D%20%27US%27%20or%201%20%3D%201",
                   headers=bearer(EU_TOKEN)).json()["rows"] == [{"volume": 3}]
    assert api.get("/query?kpi=signups&grain=all", headers=bearer(EU_TOKEN)).status_code == 403
    assert routed == []
    # no token, or a wrong one: left to the route, which answers 401 with its challenge
    for headers in ({}, bearer("not-a-token")):
        refused = api.get("/query?kpi=volume&grain=all", headers=headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert "not-a-token" not in refused.text


def test_a_request_left_to_the_route_looks_at_the_definitions_once(make_project, monkeypatch):
    """The middleware refreshes the project for a GET /query; the route answers on that same project."""
    from kpi_engine.live import LiveProject

    looks = []
    serving = LiveProject.serving

    def counted(self):
        looks.append(1)
        return serving(self)

    monkeypatch.setattr(LiveProject, "serving", counted)
    api = client(make_project(DEFINITIONS, TABLES))
    looks.clear()
    assert api.get("/query?kpi=volume&grain=all&status=0").json()["rows"] == [{"volume": 5}]  # not plain
    assert len(looks) == 1
    looks.clear()
    assert api.get("/query?kpi=volume&grain=all").json()["rows"] == [{"volume": 5}]  # plain
    assert len(looks) == 1


def test_the_plain_path_knows_every_parameter_of_the_route(make_project):
    """A parameter added to the route is left to the route by the plain path (an unknown name), which is correct
    but slow: this keeps the two lists in step. The route names its parameters when it refuses another one."""
    from kpi_engine.http import plain_get

    refused = client(make_project(DEFINITIONS, TABLES)).get("/query?kpi=volume&qqqqqqqq=1")
    assert refused.status_code == 400
    listed = re.search(r"\(expected ([^)]*)\)", refused.json()["error"]["message"])
    assert listed is not None, refused.json()
    assert sorted(listed.group(1).split(", ")) == sorted(plain_get._LISTS + plain_get._SCALARS)
