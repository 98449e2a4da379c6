"""The curl examples of docs/http.md, run with the real ``curl`` against a real ``kpi serve`` on the demo
project: each command gets the answer shown in the block after it.

A request is a ``sh`` block that starts with ``curl``; it is run by bash (so ``$VARIABLE`` expands), with
``http://127.0.0.1:8000`` replaced by the test server's address and ``-i`` added so the status is seen. The
block after it is the answer: a ``json`` block is a 200's body, a ``text`` block a 200's exact text, an
``http`` block (shown after ``curl -si``) a status line, the headers that matter, a blank line and the body.
In a JSON body shown, a list whose last item is a string starting with ``...`` stands for more items, and a
string ending with ``...`` for a longer one. A line ``<!-- http: kpi.yml NAME=value ... -->`` before a yaml
block makes that block the project's kpi.yml for the examples after it (the server, started with those
variables set, picks the edit up on its next request). (tests/test_docs.py runs the page's console and
python blocks.)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import textwrap
from pathlib import Path

import duckdb
import pytest

from kpi_engine.demo.command import PROJECT_FILE, library_path
from kpi_engine.demo.data import generate
from support.http_project import running_server

DOC = Path(__file__).resolve().parents[1] / "docs" / "http.md"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"<!-- http: kpi.yml((?: \w+=\S+)*) -->\n*$")
ADDRESS = "http://127.0.0.1:8000"
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


def is_request(language: str, body: str) -> bool:
    return language == "sh" and body.startswith("curl ")


def endpoint(command: str) -> str:
    """``METHOD /path`` of a curl command (POST when it sends data)."""
    argv = shlex.split(command.replace("\\\n", " "))
    url = next(arg for arg in argv if arg.startswith(ADDRESS))
    path = url[len(ADDRESS):].split("?")[0]
    method = "POST" if "-d" in argv or "--data" in argv else "GET"
    return f"{method} {'/kpis/{name}' if path.startswith('/kpis/') else path}"


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


def test_every_endpoint_has_a_curl_example():
    shown = {endpoint(body) for language, body, _ in blocks() if is_request(language, body)}
    assert shown == ENDPOINTS


def test_every_request_is_followed_by_its_answer():
    found = blocks()
    for i, (language, body, _) in enumerate(found):
        if is_request(language, body):
            assert i + 1 < len(found) and found[i + 1][0] in ("json", "text", "http"), body


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("http-docs")
    (root / "data").mkdir()
    with duckdb.connect(str(root / "data" / "helpdesk.duckdb")) as con:
        generate(con)
    shutil.copytree(library_path(), root / "definitions")
    (root / "kpi.yml").write_text(PROJECT_FILE.format(database="data/helpdesk.duckdb"))
    return root


def curl(command: str, base: str, env: dict[str, str]) -> tuple[int, dict[str, str], str]:
    """Run a documented curl command against ``base``: (status, headers in lower case, body)."""
    command = command.replace(ADDRESS, base)
    if not re.match(r"curl -s?i\b", command):
        command = "curl -i " + command[len("curl "):]
    done = subprocess.run(["bash", "-c", command], capture_output=True, env=env, timeout=60)  # bytes: keep \r\n
    assert done.returncode == 0, (command, done.stderr)
    head, _, body = done.stdout.decode().partition("\r\n\r\n")
    status_line, *lines = head.split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_the_curl_examples_answer_what_the_page_shows(demo):
    found = blocks()
    variables = {name: value for _, _, marked in found if marked for name, value in marked.items()}
    env = {**os.environ, **variables, "KPI_ENGINE_NO_CACHE": "1"}
    checked = 0
    with running_server(demo, env=env) as base:
        for i, (language, body, marked) in enumerate(found):
            if marked is not None:  # the kpi.yml of the examples that follow
                (demo / "kpi.yml").write_text(body)
            if not is_request(language, body):
                continue
            status, headers, answer = curl(body.strip(), base, env)
            kind, shown, _ = found[i + 1]
            if kind == "http":
                head, _, expected = shown.partition("\n\n")
                status_line, *lines = head.splitlines()
                assert status == int(status_line.split()[1]), (body, answer)
                for name, _, value in (line.partition(": ") for line in lines):
                    assert headers[name.lower()] == value, (body, name)
            else:
                assert status == 200, (body, answer)
                expected = shown
            if kind == "text" or headers["content-type"].startswith("text/csv"):
                assert answer == expected.strip("\n") + "\n", body
            else:
                assert matches(json.loads(expected), json.loads(answer)), (body, answer)
            checked += 1
    assert checked == sum(is_request(language, body) for language, body, _ in found) > len(ENDPOINTS)
