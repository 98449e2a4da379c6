"""The HTTP examples of docs/http-api.md, sent to the API on the demo project: each request block gets the
response block after it (status, the headers shown, the body).

A request block is an ``http`` block starting ``METHOD /path HTTP/1.1``, then headers, a blank line and
a body; a response block starts ``HTTP/1.1 STATUS``. In a JSON body shown, a list whose last item is a
string starting with ``...`` stands for more items, and a string ending with ``...`` for a longer one.
A line ``<!-- http-api: kpi.yml NAME=value ... -->`` before a yaml block makes that block the project's
kpi.yml for the examples after it, with those environment variables set. (tests/test_docs.py runs the
page's console and python blocks.)
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

import kpi_engine
from kpi_engine.demo.command import PROJECT_FILE, library_path
from kpi_engine.demo.data import generate
from kpi_engine.http import create_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "http-api.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"<!-- http-api: kpi.yml((?: \w+=\S+)*) -->\n*$")
ENDPOINTS = {"GET /health", "GET /kpis", "GET /kpis/{name}", "GET /dimensions", "GET /query", "POST /query",
             "POST /compile"}


def blocks() -> list[tuple[str, str, dict[str, str] | None]]:
    """(language, body, the variables of a kpi.yml marker before it, or None)."""
    text = DOC.read_text()
    found = []
    for fence in FENCE.finditer(text):
        marker = MARKER.search(text, 0, fence.start())
        variables = dict(item.split("=", 1) for item in marker.group(1).split()) if marker else None
        found.append((fence.group(1), textwrap.dedent(fence.group(2)), variables))
    return found


def exchanges() -> list[tuple[str, str]]:
    """Each request block with the response block that follows it."""
    http = [body for language, body, _ in blocks() if language == "http"]
    pairs = list(zip(http[::2], http[1::2]))
    for request, response in pairs:
        assert re.match(r"(GET|POST) /\S* HTTP/1\.1", request), request
        assert response.startswith("HTTP/1.1 "), response
    assert len(http) % 2 == 0
    return pairs


def parse(block: str) -> tuple[str, dict[str, str], str]:
    """(first line, headers, body) of a request or response block."""
    head, _, body = block.partition("\n\n")
    first, *lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in lines)
    return first, {k.lower(): v for k, v in headers.items()}, body.strip("\n")


def matches(shown, actual) -> bool:
    """The JSON a page shows against the JSON answered, ``...`` standing for what is left out."""
    if isinstance(shown, list):
        if shown and isinstance(shown[-1], str) and shown[-1].startswith("..."):
            return isinstance(actual, list) and len(actual) >= len(shown) - 1 and all(
                matches(s, a) for s, a in zip(shown[:-1], actual))
        return isinstance(actual, list) and len(shown) == len(actual) and all(map(matches, shown, actual))
    if isinstance(shown, dict):
        return isinstance(actual, dict) and shown.keys() == actual.keys() and all(
            matches(shown[k], actual[k]) for k in shown)
    if isinstance(shown, str) and shown.endswith("...") and isinstance(actual, str):
        return actual.startswith(shown[:-3])
    return shown == actual and type(shown) is type(actual)


def test_the_matcher():
    assert matches([1, "... 2 more"], [1, 2, 3]) and not matches([1, "..."], [2, 3])
    assert matches({"sql": "WITH x..."}, {"sql": "WITH x AS y"}) and not matches({"a": 1}, {"a": 1, "b": 2})
    assert not matches(1, 1.0) and not matches([1], [1, 2])


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("http-docs")
    (root / "data").mkdir()
    with duckdb.connect(str(root / "data" / "helpdesk.duckdb")) as con:
        generate(con)
    shutil.copytree(library_path(), root / "definitions")
    (root / "kpi.yml").write_text(PROJECT_FILE.format(database="data/helpdesk.duckdb"))
    return root


def test_every_endpoint_has_an_example():
    shown = set()
    for request, _ in exchanges():
        method, path = parse(request)[0].split()[:2]
        path = path.split("?")[0]
        shown.add(f"{method} {'/kpis/{name}' if path.startswith('/kpis/') else path}")
    assert shown == ENDPOINTS


def test_the_examples_answer_what_the_page_shows(demo, monkeypatch):
    monkeypatch.chdir(demo)
    pending = exchanges()
    api = TestClient(create_app(kpi_engine.load(demo)), raise_server_exceptions=False)
    checked = 0
    for language, body, variables in blocks():
        if variables is not None:  # the kpi.yml of the examples that follow
            for name, value in variables.items():
                monkeypatch.setenv(name, value)
            (demo / "kpi.yml").write_text(body)
            api = TestClient(create_app(kpi_engine.load(demo)), raise_server_exceptions=False)
        if language != "http" or body.startswith("HTTP/1.1"):
            continue
        request, response = pending.pop(0)
        assert request == body
        first, headers, sent = parse(request)
        method, path, _ = first.split()
        answer = api.request(method, path, headers=headers, content=sent.encode() if sent else None)
        status_line, expected_headers, expected = parse(response)
        assert answer.status_code == int(status_line.split()[1]), (first, answer.text)
        for name, value in expected_headers.items():
            assert answer.headers[name] == value, (first, name)
        if expected_headers["content-type"] == "application/json":
            assert matches(json.loads(expected), answer.json()), (first, answer.text)
        else:
            assert answer.text == expected + "\n", first
        checked += 1
    assert checked == len(exchanges()) and not pending
