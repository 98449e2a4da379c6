"""Fixtures of tests/: small projects on real engines, built from YAML text and Python rows.

The engine fixtures (``engine_source``, ``postgres_dsn``, ``spark_ready``) come from the root
conftest.py; helpers to import are in tests/support/, never here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import kpi_engine
from support.engines import Table


@pytest.fixture
def make_project(tmp_path: Path, engine_source) -> Callable[..., kpi_engine.Project]:
    """make_project(definitions_yaml, tables, engine="duckdb") -> a loaded Project on that engine."""
    counter = iter(range(1000))

    def make(definitions: str | dict[str, str], tables: dict[str, Table] | None = None, *,
             engine: str = "duckdb", extra_config: str = "") -> kpi_engine.Project:
        root = tmp_path / f"project{next(counter)}"
        (root / "definitions").mkdir(parents=True)
        files = {"main.yml": definitions} if isinstance(definitions, str) else definitions
        for name, text in files.items():
            (root / "definitions" / name).write_text(textwrap.dedent(text))
        source = engine_source(engine, root, tables or {})
        (root / "kpi.yml").write_text(f"name: test\nsources:\n{source}{extra_config}")
        return kpi_engine.load(root)

    return make


@pytest.fixture
def write_project(tmp_path: Path) -> Callable[..., Path]:
    """write_project({relative path: text}) -> the project folder (nothing loaded)."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "project"
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return root

    return write


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true",
                     help="rewrite tests/golden/*/*.sql (header and SQL) from the compiler")
