"""Tokens: who may call, what each sees, the row filter no request can widen, and tokens kept out of every
body, log line and error. The project and its hand-counted numbers: tests/support/http_project.py; the
eu-dashboard token sees volume, resolution_rate (tag support) and per_signup, under region = 'EU'. Every test
that queries runs on DuckDB and on PostgreSQL (a throwaway server, or TEST_POSTGRES_DSN)."""

from __future__ import annotations

import hmac
import json
import logging

import pytest

import kpi_engine
from kpi_engine.definitions.model import TokenConfig
from kpi_engine.http import auth
from support.engines import EXECUTED
from support.http_project import ALL_TOKEN, DEFINITIONS, EU_TOKEN, TABLES, TOKENS, WRONG_TOKEN, bearer, client

EU = bearer(EU_TOKEN)
NO_POSITION = {"file": None, "line": None, "column": None}


#: The engines the security suite runs on: a row filter must hold in the SQL of each (a local file and a server).
ENGINES = [engine for engine in ("duckdb", "postgres") if engine in EXECUTED]


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def project(make_project, engine):
    return make_project(DEFINITIONS, TABLES, engine=engine, extra_config=TOKENS)


@pytest.fixture
def api(project):
    return client(project)


def error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, **NO_POSITION}}


# ====================================================================== who may call
@pytest.mark.parametrize("method, path", [
    ("GET", "/kpis"), ("GET", "/kpis/volume"), ("GET", "/dimensions"), ("GET", "/query?kpi=volume"),
    ("POST", "/query"), ("POST", "/compile"), ("GET", "/openapi.json")])
def test_every_endpoint_but_health_needs_a_token(api, method, path):
    body = {"kpis": ["volume"]} if method == "POST" else None
    missing = api.request(method, path, json=body)
    assert (missing.status_code, missing.json()) == (401, error(
        "unauthorized", "this API needs a token: send Authorization: Bearer <token>"))
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = api.request(method, path, json=body, headers=bearer(WRONG_TOKEN))  # same length, last character off
    assert (wrong.status_code, wrong.json()) == (401, error("unauthorized", "the token is not valid"))
    assert api.request(method, path, json=body, headers=EU).status_code == 200


@pytest.mark.parametrize("header", [f"Basic {EU_TOKEN}", EU_TOKEN, "Bearer", "Bearer ", f"Bearer {EU_TOKEN}x",
                                    f"Bearer {EU_TOKEN[:-1]}"])
def test_only_the_exact_bearer_token_is_accepted(api, header):
    assert api.get("/kpis", headers={"Authorization": header}).status_code == 401


def test_the_scheme_is_case_insensitive(api):
    assert api.get("/kpis", headers={"Authorization": f"bearer {EU_TOKEN}"}).status_code == 200


def test_health_needs_no_token_and_counts_what_the_caller_may_see(api):
    assert api.get("/health").json() == {"status": "ok", "kpis": 0, "sources": {"default": "ok"}}
    assert api.get("/health", headers=EU).json()["kpis"] == 3
    assert api.get("/health", headers=bearer(ALL_TOKEN)).json()["kpis"] == 4


def test_every_token_is_compared_every_time(monkeypatch):
    """The comparison takes the same steps whichever token matches: every configured token is compared,
    each with hmac.compare_digest on digests of equal length (the time says nothing of the token's length)."""
    calls = []
    original = hmac.compare_digest

    def compare(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", compare)
    tokens = [TokenConfig(name="a", token="first-token"), TokenConfig(name="b", token="second"),
              TokenConfig(name="c", token="x" * 80)]
    for presented, expected in (("first-token", "a"), ("second", "b"), ("y", None)):
        calls.clear()
        match = auth._match(presented, tokens)
        assert (match.name if match else None) == expected
        assert calls == [(32, 32)] * 3


# ======================================================================= what it sees
def test_a_token_lists_only_its_kpis(api):
    assert [k["name"] for k in api.get("/kpis", headers=EU).json()] == ["volume", "resolution_rate", "per_signup"]
    assert [k["name"] for k in api.get("/kpis", headers=bearer(ALL_TOKEN)).json()] == [
        "volume", "resolution_rate", "signups", "per_signup"]
    assert api.get("/dimensions", headers=EU).json() == [
        {"name": "channel", "datasets": ["tickets"], "kpis": ["volume", "resolution_rate"]},
        {"name": "region", "datasets": ["customers", "tickets"], "kpis": ["volume", "resolution_rate", "per_signup"]}]


def test_a_kpi_outside_the_token_is_403_and_looks_like_one_that_does_not_exist(api):
    """/kpis/signups (exists, not the token's) and /kpis/signupz (does not exist) answer alike: a token
    learns nothing about KPIs outside its list. A suggestion is only ever one of its own KPIs."""
    for name in ("signups", "signupz"):
        response = api.get(f"/kpis/{name}", headers=EU)
        assert (response.status_code, response.json()) == (403, error(
            "forbidden", f"KPI '{name}' is not available to this token; did you mean 'per_signup'?"))
    response = api.get("/kpis/emails", headers=EU)  # exists, hidden, not the token's
    assert (response.status_code, response.json()) == (403, error(
        "forbidden", "KPI 'emails' is not available to this token"))
    response = api.get("/query?kpi=volum", headers=EU)
    assert (response.status_code, response.json()) == (403, error(
        "forbidden", "KPI 'volum' is not available to this token; did you mean 'volume'?"))
    for response in (api.get("/query?kpi=signups", headers=EU), api.get("/query?kpi=volume&kpi=emails", headers=EU),
                     api.post("/compile", json={"kpis": ["signups"]}, headers=EU)):
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_the_filter_applies_to_every_query(api):
    # EU tickets: Jan {1}, Feb {3, 5}
    assert api.get("/query?kpi=volume", headers=EU).json()["rows"] == [
        {"period": "2025-01-01", "volume": 1}, {"period": "2025-02-01", "volume": 2}]
    # EU resolution: resolved {1, 3} of {1, 3, 5}
    assert api.get("/query?kpi=resolution_rate&grain=all", headers=EU).json()["rows"] == [
        {"resolution_rate": 2 / 3}]
    # the same query with the unfiltered token: 5 tickets
    assert api.get("/query?kpi=volume&grain=all", headers=bearer(ALL_TOKEN)).json()["rows"] == [{"volume": 5}]


@pytest.mark.parametrize("where, volume", [
    ("region = 'US' or 1 = 1", 3), ("true or true", 3), ("region = 'US'", 0), ("region != 'EU' or region = 'EU'", 3),
    ("1 = 1) or (1 = 1", None), ("channel = 'chat' or region = 'US'", 1)])
def test_no_where_widens_the_filter(api, where, volume):
    response = api.get("/query", params={"kpi": "volume", "grain": "all", "where": where}, headers=EU)
    if volume is None:  # not a condition: refused, not pasted into the SQL
        assert response.status_code == 400
    else:
        assert response.json()["rows"] == [{"volume": volume}]


def test_by_a_dimension_shows_only_the_filtered_rows(api):
    assert api.get("/query?kpi=volume&grain=all&by=region", headers=EU).json()["rows"] == [
        {"region": "EU", "volume": 3}]
    # EU by channel: chat {3}, email {1, 5}
    assert api.get("/query?kpi=volume&grain=all&by=channel", headers=EU).json()["rows"] == [
        {"channel": "chat", "volume": 1}, {"channel": "email", "volume": 2}]


def test_a_derived_kpi_reads_its_unlisted_kpis_under_the_filter(api):
    # EU: Jan 1 ticket / 1 signup; Feb 2 tickets / 0 signups = null (signups itself is not the token's)
    assert api.get("/query?kpi=per_signup", headers=EU).json()["rows"] == [
        {"period": "2025-01-01", "per_signup": 1.0}, {"period": "2025-02-01", "per_signup": None}]
    detail = api.get("/kpis/per_signup", headers=EU).json()
    assert detail["uses"] == ["volume", "signups"]


def test_the_compiled_sql_holds_the_filter(api, project):
    sql = api.post("/compile", json={"kpis": ["volume"], "where": "region = 'US' or 1 = 1"}, headers=EU).json()["sql"]
    assert "'EU'" in sql
    assert sql == project.compile(["volume"], where="region = 'US' or 1 = 1", filters=["region = 'EU'"])


def test_a_dataset_the_filter_cannot_limit_is_forbidden(make_project, engine):
    project = make_project(DEFINITIONS, TABLES, engine=engine, extra_config=(
        "serve:\n  tokens:\n    - name: email-team\n      token: email-team-token-123456\n"
        "      where: channel = 'email'\n"))
    api = client(project)
    headers = bearer("email-team-token-123456")
    # customers has no channel: a query reading it is refused; tickets can be limited: email {1, 4, 5}
    response = api.get("/query?kpi=signups", headers=headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert api.get("/query?kpi=per_signup", headers=headers).status_code == 403
    assert api.get("/query?kpi=volume&grain=all", headers=headers).json()["rows"] == [{"volume": 3}]


def test_results_are_cached_per_token(api):
    assert api.get("/query?kpi=volume&grain=all", headers=EU).json()["rows"] == [{"volume": 3}]
    other = api.get("/query?kpi=volume&grain=all", headers=bearer(ALL_TOKEN)).json()
    assert (other["rows"], other["meta"]["cached"]) == ([{"volume": 5}], False)
    again = api.get("/query?kpi=volume&grain=all", headers=EU).json()
    assert (again["rows"], again["meta"]["cached"]) == ([{"volume": 3}], True)


# ======================================================================= kept secret
def test_tokens_appear_in_no_body_and_no_log_line(api, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    bodies = []
    for headers in ({}, EU, bearer(WRONG_TOKEN), bearer(ALL_TOKEN)):
        for path in ("/health", "/kpis", "/kpis/signups", "/dimensions", "/openapi.json", "/query?kpi=volume",
                     "/query?kpi=nothing", "/query?kpi=volume&where=x =", "/nothing"):
            bodies.append(api.get(path, headers=headers).text)
        bodies.append(api.post("/compile", json={"kpis": ["volume"]}, headers=headers).text)

    def broken(self, kpis, **options):
        raise RuntimeError("boom")

    monkeypatch.setattr(kpi_engine.Project, "query", broken)
    bodies.append(api.get("/query?kpi=volume&grain=year", headers=EU).text)  # a 500, logged with its traceback
    assert "boom" in caplog.text
    for secret in (EU_TOKEN, ALL_TOKEN, WRONG_TOKEN):
        assert not any(secret in body for body in bodies)
        assert secret not in caplog.text


def test_the_openapi_document_names_the_scheme_not_the_tokens(api):
    document = api.get("/openapi.json", headers=EU).json()
    assert document["components"]["securitySchemes"] == {"HTTPBearer": {
        "type": "http", "description": "A token of serve.tokens in kpi.yml (when it lists any).", "scheme": "bearer"}}
    text = json.dumps(document)
    assert EU_TOKEN not in text and ALL_TOKEN not in text and "eu-dashboard" not in text


# =========================================================== tokens checked at load
def write(write_project, serve: str):
    return write_project({
        "kpi.yml": "name: t\nsources:\n  default: {connector: duckdb, database: ':memory:'}\n" + serve,
        "definitions/main.yml": DEFINITIONS})


@pytest.mark.parametrize("serve, expected", [
    ("serve:\n  tokens:\n    - name: a\n      token: a-secret-value\n      kpis: [volum]\n",
     [("kpi.yml", 8, 14, "serve-tokens", "unknown KPI 'volum' in token 'a'; did you mean 'volume'?")]),
    ("serve:\n  tokens:\n    - name: a\n      token: a-secret-value\n      kpis: ['tag:suport']\n",
     [("kpi.yml", 8, 14, "serve-tokens", "unknown tag 'suport' in token 'a'; did you mean 'support'?")]),
    ("serve:\n  tokens:\n    - name: a\n      token: a-secret-value\n      where: regon = 'EU'\n",
     [("kpi.yml", 8, 14, "serve-tokens", "unknown dimension 'regon' in the where of token 'a'; did you mean "
                                         "'region'?")]),
    ("serve:\n  tokens:\n    - name: a\n      token: a-secret-value\n      where: \"region = \"\n",
     [("kpi.yml", 8, 22, "syntax", "missing value after an operator")]),
    ("serve:\n  tokens:\n    - name: a\n      token: ''\n",
     [("kpi.yml", 7, 14, "serve-tokens", "token 'a' is empty: set it, usually through ${VARIABLE}")]),
    ("serve:\n  tokens:\n    - {name: a, token: a-secret-value}\n    - {name: a, token: a-secret-value}\n",
     [("kpi.yml", 7, 14, "serve-tokens", "token name 'a' is used twice (first in token 1)"),
      ("kpi.yml", 7, 24, "serve-tokens", "tokens 'a' and 'a' have the same value; give each holder a token of its "
                                         "own")]),
])
def test_tokens_are_checked_when_the_project_loads(write_project, monkeypatch, serve, expected):
    root = write(write_project, serve)
    monkeypatch.chdir(root)
    with pytest.raises(kpi_engine.KpiError) as caught:
        kpi_engine.load(root)
    found = [(e.file, e.line, e.column, e.code, e.message) for e in caught.value.errors]
    assert found == expected
    assert "a-secret-value" not in caught.value.render()


@pytest.mark.parametrize("serve, rendered", [
    ("serve:\n  tokens:\n    - name: a\n      token: [s3cret-in-a-list]\n",
     "kpi.yml:7:14: error[schema]: token must be text, usually ${VARIABLE}; got a list"),
    ("serve:\n  tokens:\n    - {name: a, tokn: s3cret-misspelt-key}\n",
     "kpi.yml:6:7: error[schema]: missing required key 'token'\n\n"
     "kpi.yml:6:17: error[schema]: unknown key 'tokn'; did you mean 'token'?"),
])
def test_a_malformed_token_is_reported_without_its_value(write_project, monkeypatch, serve, rendered):
    """The place is kept, the line is not shown: it may hold the token."""
    root = write(write_project, serve)
    monkeypatch.chdir(root)
    with pytest.raises(kpi_engine.KpiError) as caught:
        kpi_engine.load(root)
    assert caught.value.render() == rendered
    assert "s3cret" not in caught.value.render() and "s3cret" not in str(caught.value)
