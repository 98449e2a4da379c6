"""Live definitions: the first request after a file is written sees it; a broken edit keeps the last good
definitions serving and shows its errors on /health until it is fixed. Numbers: tests/support/http_project.py."""

from __future__ import annotations

import logging
import os

import pytest

from support.http_project import ALL_TOKEN, DEFINITIONS, TABLES, TOKENS, bearer, client

BROKEN = DEFINITIONS.replace("formula: count()\n    format: integer", "formula: count(\n    format: integer")


@pytest.fixture
def project(make_project):
    return make_project(DEFINITIONS, TABLES)


@pytest.fixture
def api(project):
    return client(project)


def definitions(project):
    return project.root / "definitions" / "main.yml"


def test_an_edited_formula_is_used_by_the_next_request(api, project):
    assert api.get("/query?kpi=volume&grain=all").json()["rows"] == [{"volume": 5}]
    text = definitions(project).read_text()
    definitions(project).write_text(text.replace("formula: count()\n    format: integer",
                                                 "formula: \"count(where status = 'resolved')\"\n    format: integer"))
    # resolved tickets: 1, 3, 4; the cached result of the old formula is not reused
    body = api.get("/query?kpi=volume&grain=all").json()
    assert (body["rows"], body["meta"]["cached"]) == ([{"volume": 3}], False)
    assert api.get("/kpis/volume").json()["formula"] == "count(where status = 'resolved')"


def test_a_new_file_and_a_removed_one(api, project):
    extra = project.root / "definitions" / "more.yml"
    extra.write_text("kpis:\n  emails_seen:\n    dataset: tickets\n    formula: \"count(where channel = 'email')\"\n")
    assert "emails_seen" in [k["name"] for k in api.get("/kpis").json()]
    # email tickets: 1, 4, 5
    assert api.get("/query?kpi=emails_seen&grain=all").json()["rows"] == [{"emails_seen": 3}]
    extra.unlink()
    assert "emails_seen" not in [k["name"] for k in api.get("/kpis").json()]
    assert api.get("/query?kpi=emails_seen").status_code == 404


def test_a_broken_edit_keeps_the_last_good_definitions_until_it_is_fixed(api, project, caplog):
    definitions(project).write_text(BROKEN)
    with caplog.at_level(logging.WARNING, logger="kpi_engine.http"):
        health = api.get("/health").json()
    assert health["status"] == "degraded" and health["kpis"] == 4
    assert len(health["errors"]) == 1
    problem = health["errors"][0]
    # `    formula: count(` is line 14 of the file (after its first, blank line); its parenthesis is column 19
    assert (problem["code"], problem["message"], problem["line"], problem["column"]) == (
        "syntax", "missing closing parenthesis", 14, 19)
    assert problem["file"].endswith("definitions/main.yml")
    assert set(problem) == {"code", "message", "file", "line", "column"}
    assert "do not load" in caplog.text
    # the previous definitions still answer
    assert api.get("/query?kpi=volume&grain=all").json()["rows"] == [{"volume": 5}]
    # fixed: all is well again, with the new definitions
    definitions(project).write_text(DEFINITIONS.replace("title: Tickets per signup", "title: Load per signup"))
    assert api.get("/health").json() == {"status": "ok", "kpis": 4, "sources": {"default": "ok"}}
    assert api.get("/kpis/per_signup").json()["title"] == "Load per signup"


def test_an_edit_of_the_same_size_in_the_same_instant_is_seen(api, project):
    """A rewrite that keeps the size and may keep the modification time (two writes within one tick of
    the file system's clock) is still seen: recently written files are hashed again."""
    text = definitions(project).read_text()
    first = text.replace("title: Tickets per signup", "title: Tickets per signuP")
    second = text.replace("title: Tickets per signup", "title: Tickets per signUp")
    definitions(project).write_text(first)
    assert api.get("/kpis/per_signup").json()["title"] == "Tickets per signuP"
    before = definitions(project).stat()
    definitions(project).write_text(second)
    os.utime(definitions(project), ns=(before.st_atime_ns, before.st_mtime_ns))  # the same stat as before
    assert definitions(project).stat().st_mtime_ns == before.st_mtime_ns
    assert api.get("/kpis/per_signup").json()["title"] == "Tickets per signUp"


def test_tokens_added_to_kpi_yml_apply_at_once(api, project):
    assert api.get("/kpis").status_code == 200
    config = project.root / "kpi.yml"
    config.write_text(config.read_text() + TOKENS)
    assert api.get("/kpis").status_code == 401
    assert api.get("/kpis", headers=bearer(ALL_TOKEN)).status_code == 200


def test_a_server_beyond_loopback_keeps_its_tokens(make_project):
    project = make_project(DEFINITIONS, TABLES, extra_config=TOKENS)
    api = client(project, require_tokens=True)
    config = project.root / "kpi.yml"
    config.write_text(config.read_text().replace(TOKENS, "\nserve:\n  cache_ttl: 10\n"))
    health = api.get("/health").json()
    assert health["status"] == "degraded"
    assert health["errors"][0]["code"] == "serve-tokens"
    assert "serve.tokens was removed" in health["errors"][0]["message"]
    assert api.get("/kpis").status_code == 401  # still guarded
    assert api.get("/kpis", headers=bearer(ALL_TOKEN)).status_code == 200


def test_nothing_is_reloaded_without_watch(project):
    api = client(project, watch=False)
    definitions(project).write_text(BROKEN)
    assert api.get("/health").json()["status"] == "ok"
