"""The examples in README.md and docs/*.md run, and print what the docs say they print.

Each Markdown file gets a fresh copy of the demo project (``kpi demo`` data and
the KPI library), then its fenced blocks are played in order:

- a block just after a line ``<!-- file: <path> -->`` is written, as it is, to
  that path of the project (so every line number an error shows is the line of
  the file a reader pastes the block into); such a ``python`` block is a module
  to save, not code to run. A ``yaml`` block with ``kpis:`` or ``datasets:`` and
  no file line must at least be a valid definition file;
- in a ``console`` block, each ``$ kpi ...`` line is run in the project and the
  lines after it are the expected output (stdout and stderr); a line ``...``
  matches any number of lines. The exit status must be what the output says:
  3 with ``error[source]``, 1 with another ``error[``, 2 after a ``Usage:`` line,
  else 0;
- a ``python`` block is executed, in the project folder, in one namespace per file.

Every block that shows a ``$ kpi`` command is a ``console`` block, so none escapes the run.
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

from kpi_engine.definitions.files import validate_model
from kpi_engine.demo.command import PROJECT_FILE, library_path
from kpi_engine.demo.data import generate
from kpi_engine.definitions.loader import load_yaml_text
from kpi_engine.definitions.model import DefinitionFile

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
FILE_LINE = re.compile(r"<!-- file: (\S+) -->\n*$")


def blocks(doc: Path) -> list[tuple[str, str, str | None]]:
    """The fenced blocks of a Markdown file: (language, body, the file it is written to or None)."""
    text = doc.read_text()
    found = []
    for fence in FENCE.finditer(text):
        file_line = FILE_LINE.search(text, 0, fence.start())
        found.append((fence.group(1), textwrap.dedent(fence.group(2)), file_line and file_line.group(1)))
    return found


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


def exit_status(expected: list[str]) -> int:
    """The exit status an output means: 3 source failed, 1 definition or query error, 2 usage, 0 done."""
    if any("error[source]" in line for line in expected):
        return 3
    if any("error[" in line for line in expected):
        return 1
    return 2 if any(line.startswith("Usage: kpi") for line in expected) else 0


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
        assert done.returncode == exit_status(expected), f"$ {command}: exit code {done.returncode}"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_examples_run(doc: Path, tmp_path: Path, demo_database: Path, monkeypatch: pytest.MonkeyPatch):
    project = make_project(tmp_path / "project", demo_database)
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", list(sys.path))  # an example may add the project's plugins/
    modules = set(sys.modules)
    namespace: dict[str, object] = {}
    try:
        for language, body, path in blocks(doc):
            if path is not None:
                target = project / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(body)
            elif language == "yaml" and re.search(r"^(kpis|datasets):", body, re.M):
                document = load_yaml_text(body, f"{doc.name} example")
                _, errors = validate_model(DefinitionFile, document)
                assert not errors, errors[0].render()
            elif language == "yaml":
                yaml.safe_load(body)
            if language == "console":
                run_console(body, project)
            elif language == "python" and path is None:
                exec(compile(body, str(doc), "exec"), namespace)  # noqa: S102 - the docs' own examples
    finally:  # modules the examples imported from the project's folder
        for name in set(sys.modules) - modules:
            if str(project) in str(getattr(sys.modules[name], "__file__", None) or ""):
                del sys.modules[name]


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_examples_paste_as_they_are(doc: Path):
    """A file's name goes before its block, never inside it: the block is the whole file."""
    for language, body, _ in blocks(doc):
        first = body.lstrip().splitlines()[0] if body.strip() else ""
        assert not re.match(r"#\s*(file:|\S+\.(yml|yaml|py)$)", first), (
            f"{doc.name}: a {language} block starts with {first!r}; write <!-- file: ... --> before the block")


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_kpi_command_with_its_output_is_run(doc: Path):
    for language, body, _ in blocks(doc):
        lines = body.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("$ kpi") and i + 1 < len(lines) and lines[i + 1].strip():
                assert language == "console", f"{doc.name}: '{line}' is in a {language} block, which is not run"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_the_docs_stand_alone(doc: Path):
    """Users have the docs, not the design notes: no reference to a spec file or its sections."""
    text = doc.read_text()
    for pattern in (r"\bSPEC\b", r"\bspec(\.md)?\s*§", r"§"):
        assert not re.search(pattern, text), f"{doc.name} refers to a spec: {re.search(pattern, text).group(0)!r}"


def test_every_doc_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for doc in DOCS[1:]:
        assert f"docs/{doc.name}" in readme, doc.name
