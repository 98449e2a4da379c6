"""The examples in README.md and docs/*.md run, and print what the docs say they print.

Each Markdown file gets a fresh copy of the demo project (``kpi demo`` data and
the KPI library), then its fenced blocks are played in order:

- a ``yaml`` block whose first line is ``# file: <path>`` is written (without
  that line) to that path of the project; a ``yaml`` block with ``kpis:`` or ``datasets:`` and no
  ``# file:`` must at least be a valid definition file;
- in a ``console`` block, each ``$ kpi ...`` line is run in the project and the
  lines after it are the expected output (stdout and stderr); a line ``...``
  matches any number of lines; an expected line containing ``error[`` means a
  non-zero exit code;
- a ``python`` block is executed, in the project folder, in one namespace per file.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
import yaml

from kpi_engine.definitions import validate_model
from kpi_engine.demo.command import PROJECT_FILE, library_path
from kpi_engine.demo.data import generate
from kpi_engine.loader import load_yaml_text
from kpi_engine.model import DefinitionFile

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "helpdesk.duckdb"
    with duckdb.connect(str(path)) as con:
        generate(con)
    return path


def make_project(folder: Path, database: Path) -> Path:
    (folder / "data").mkdir(parents=True)
    shutil.copy(database, folder / "data" / "helpdesk.duckdb")
    shutil.copytree(library_path(), folder / "definitions")
    (folder / "kpi.yml").write_text(PROJECT_FILE.format(database="data/helpdesk.duckdb"))
    return folder


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; a '...' line matches any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and expected[0].rstrip() == actual[0].rstrip() and matches(expected[1:], actual[1:])


def run_console(block: str, project: Path) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands:
            commands[-1][1].append(line)
    env = {**os.environ, "KPI_ENGINE_NO_CACHE": "1", "COLUMNS": "200"}
    for command, expected in commands:
        argv = shlex.split(command)
        assert argv[0] == "kpi", f"docs only run kpi commands: {command}"
        done = subprocess.run([sys.executable, "-m", "kpi_engine", *argv[1:]], cwd=project, capture_output=True,
                              text=True, env=env)
        output = (done.stdout + done.stderr).rstrip("\n").splitlines()
        while expected and not expected[-1].strip():
            expected.pop()
        assert matches(expected, output), (
            f"$ {command}\n--- the docs say:\n" + "\n".join(expected) + "\n--- it printed:\n" + "\n".join(output))
        wants_error = any("error[" in line for line in expected)
        assert (done.returncode != 0) == wants_error, f"$ {command}: exit code {done.returncode}"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_examples_run(doc: Path, tmp_path: Path, demo_database: Path, monkeypatch: pytest.MonkeyPatch):
    project = make_project(tmp_path / "project", demo_database)
    monkeypatch.chdir(project)
    namespace: dict[str, object] = {}
    for language, body in FENCE.findall(doc.read_text()):
        body = textwrap.dedent(body)
        if language == "yaml":
            first = body.splitlines()[0] if body.strip() else ""
            if first.startswith("# file:"):
                target = project / first.split(":", 1)[1].strip()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(body.split("\n", 1)[1])  # the marker line is not part of the file
            elif re.search(r"^(kpis|datasets):", body, re.M):
                document = load_yaml_text(body, f"{doc.name} example")
                _, errors = validate_model(DefinitionFile, document)
                assert not errors, errors[0].render()
            else:
                yaml.safe_load(body)
        elif language == "console":
            run_console(body, project)
        elif language == "python":
            exec(compile(body, str(doc), "exec"), namespace)  # noqa: S102 - the docs' own examples


def test_every_doc_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for doc in DOCS[1:]:
        assert f"docs/{doc.name}" in readme, doc.name
