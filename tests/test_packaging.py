"""Dependency ranges: what the README promises is what pyproject.toml declares and CI tests.

CI installs the newest versions in one run and the lowest that pyproject.toml allows in a
second (README, ``<!-- ci:test-lowest -->``), restricted to the engines that need no
extra package through ``TEST_ENGINES``. These tests keep the README's "Supported
versions" paragraph in step with the ranges, and ``TEST_ENGINES`` strict.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from support import engines

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
README = (ROOT / "README.md").read_text()
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)>=(?P<low>[0-9.]+)(?:,<(?P<high>[0-9.]+))?$")


def supported_versions() -> str:
    """The README's "Supported versions" paragraph, on one line."""
    match = re.search(r"^\*\*Supported versions\.\*\*(.*?)(?:\n\n|\Z)", README, re.S | re.M)
    assert match, "README.md has no **Supported versions.** paragraph"
    return " ".join(match.group(1).split())


def promised(low: str, high: str | None) -> str:
    """How the README writes a range: ">=1.2,<3" is "1.2 to 2.x", ">=30.29,<30.32" is "30.29 to 30.31"."""
    if high is None:
        return f"{low} or newer"
    *head, last = high.split(".")
    below = f"{int(last) - 1}.x" if not head else ".".join([*head, str(int(last) - 1)])
    return f"{low} to {below}"


def declared() -> list[tuple[str, str, str | None]]:
    """(name, lower bound, upper bound) of the core dependencies and the pandas/arrow extras."""
    extras = PROJECT["optional-dependencies"]
    ranges = []
    for requirement in [*PROJECT["dependencies"], *extras["pandas"], *extras["arrow"]]:
        match = REQUIREMENT.match(requirement)
        assert match, f"{requirement!r}: write every dependency as name>=low or name>=low,<high"
        ranges.append((match["name"], match["low"], match["high"]))
    return ranges


def test_promised_ranges_are_written_as_people_read_them():
    assert promised("1.2", "3") == "1.2 to 2.x"
    assert promised("30.29", "30.32") == "30.29 to 30.31"
    assert promised("15", None) == "15 or newer"


@pytest.mark.parametrize("name, low, high", declared(), ids=[name for name, _, _ in declared()])
def test_the_readme_states_each_declared_range(name, low, high):
    text = supported_versions().lower()
    assert f"{name.lower()} {promised(low, high)}" in text, (name, promised(low, high))


def test_the_readme_states_the_python_versions():
    assert PROJECT["requires-python"] == ">=3.11"
    assert "Python 3.11 or newer" in supported_versions()


def test_ci_runs_the_lowest_versions_of_tests_on_the_engines_without_extras():
    block = re.search(r"<!-- ci:test-lowest -->\n```bash\n(.*?)\n```\n<!-- /ci:test-lowest -->", README, re.S)
    assert block, "README.md has no <!-- ci:test-lowest --> block"
    commands = block.group(1)
    assert "--resolution lowest-direct" in commands and "-e '.[test]'" in commands
    assert "TEST_ENGINES=duckdb,sqlite pytest tests" in commands
    assert not re.search(r"\buv (lock|sync)\b|--index-url|https?://", commands)  # no lock file, no registry named


@pytest.mark.parametrize("setting, expected", [
    (None, ("duckdb", "sqlite", "postgres", "spark")),
    ("", ("duckdb", "sqlite", "postgres", "spark")),
    ("duckdb,sqlite", ("duckdb", "sqlite")),
    (" SQLite , duckdb ", ("duckdb", "sqlite")),  # the usual order, whatever the order given
    ("spark", ("spark",)),
])
def test_test_engines_names_the_executed_engines(setting, expected):
    assert engines.executed_engines(setting) == expected


def test_an_unknown_test_engine_is_an_error_not_an_empty_run():
    with pytest.raises(ValueError, match=r"TEST_ENGINES: unknown engine\(s\) duckbd; choose from duckdb, sqlite"):
        engines.executed_engines("duckbd,sqlite")
