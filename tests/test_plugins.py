"""Plugins: local modules, installed distributions, the built-in connectors, and their documentation."""

from __future__ import annotations

import datetime as dt
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import kpi_engine
from conftest import write_tables
from kpi_engine import hookspecs
from kpi_engine.plugins import get_plugin_manager

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
from sqlglot import exp

from kpi_engine import FunctionSpec, hookimpl
from kpi_engine.connectors.duckdb import DuckDBConnector


class EchoDuckDB(DuckDBConnector):
    """The DuckDB connector under another name: a connector defined by a plugin."""

    name = "echo"


def clamp_sql(dialect, args):
    value, low, high = args
    return dialect.least([dialect.greatest([value, low]), high])


@hookimpl
def register_connectors():
    return [EchoDuckDB]


@hookimpl
def register_functions():
    return [FunctionSpec("clamp", "row", "clamp(x, low, high)", "x limited to [low, high].", 3, 3, sql=clamp_sql)]
'''


@pytest.fixture
def plugin_project(write_project):
    root = write_project({
        "kpi.yml": "plugins: [plugins/extra.py]\nsources:\n  default:\n    connector: echo\n    database: data.duckdb\n",
        "plugins/extra.py": PLUGIN,
        "definitions/a.yml": """
            datasets:
              scores:
                table: scores
                time: at_time
            kpis:
              clamped_total:
                dataset: scores
                formula: sum(clamp(score, 0, 10))
        """,
    })
    # scores -5, 4, 25 in January: clamped to 0, 4, 10
    rows = [(dt.datetime(2025, 1, d), s) for d, s in ((1, -5), (2, 4), (3, 25))]
    write_tables("duckdb", root / "data.duckdb", {"scores": (["at_time", "score"], rows)})
    return root


def test_a_local_plugin_adds_a_connector_and_a_function(plugin_project):
    project = kpi_engine.load(plugin_project)
    assert project.connectors["default"].name == "echo"
    assert project.query(["clamped_total"]).rows == [("2025-01-01", 14)]


def test_a_misspelt_hook_is_an_error(write_project):
    root = write_project({
        "kpi.yml": "plugins: [p.py]\n",
        "p.py": "from kpi_engine import hookimpl\n\n@hookimpl\ndef register_conectors():\n    return []\n",
    })
    with pytest.raises(kpi_engine.DefinitionError) as info:
        kpi_engine.load(root)
    assert info.value.message == ("plugin " + str(root / "p.py") + " implements 'register_conectors', which is not "
                                  "a kpi_engine hook; did you mean 'register_connectors'?")
    assert (info.value.line, info.value.column) == (1, 11)  # at its entry in kpi.yml


def test_a_plugin_that_fails_to_import_is_reported_at_its_line_in_kpi_yml(write_project):
    root = write_project({"kpi.yml": "plugins:\n  - broken.py\n", "broken.py": "import no_such_module_here\n"})
    with pytest.raises(kpi_engine.DefinitionError) as info:
        kpi_engine.load(root)
    assert (info.value.line, info.value.column) == (2, 5)
    assert "no_such_module_here" in info.value.message


def test_unknown_connector_and_bad_options(write_project):
    root = write_project({"kpi.yml": "sources:\n  default:\n    connector: duckbd\n"})
    with pytest.raises(kpi_engine.DefinitionError, match="did you mean 'duckdb'") as info:
        kpi_engine.load(root)
    assert (info.value.line, info.value.column) == (3, 16)
    root = write_project({"kpi.yml": "sources:\n  default:\n    connector: sqlite\n    databse: x.sqlite\n"})
    with pytest.raises(kpi_engine.KpiError) as info:
        kpi_engine.load(root)
    messages = [e.message for e in info.value.errors]
    assert any("unknown key 'databse'" in m and "did you mean 'database'" in m for m in messages)


def test_an_installed_distribution_is_found_through_its_entry_point(tmp_path, monkeypatch, write_project):
    site = tmp_path / "site"
    (site / "kpi_engine_echo").mkdir(parents=True)
    (site / "kpi_engine_echo" / "__init__.py").write_text(PLUGIN)
    dist = site / "kpi_engine_echo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: kpi-engine-echo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[kpi_engine]\necho = kpi_engine_echo\n")
    monkeypatch.syspath_prepend(str(site))
    pm = get_plugin_manager()
    assert "echo" in dict(pm.list_name_plugin())


def test_built_in_connectors_are_plugins_through_the_public_hooks():
    pm = get_plugin_manager(entry_points=False)
    names = [cls.name for classes in pm.hook.register_connectors() for cls in classes]
    assert sorted(names) == ["duckdb", "sqlite"]


def test_every_hook_is_documented_with_its_signature():
    docs = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [name for name, value in inspect.getmembers(hookspecs, inspect.isfunction)
             if getattr(value, "kpi_engine_spec", None) is not None]
    assert hooks, "hookspecs declares hooks"
    for name in hooks:
        assert re.search(rf"^### {name}\(", docs, re.M), f"docs/plugins.md has no '### {name}(' section"
        assert inspect.getdoc(getattr(hookspecs, name)), f"{name} has no docstring"


def test_hookspec_docstrings_say_when_and_what():
    for name, value in inspect.getmembers(hookspecs, inspect.isfunction):
        if getattr(value, "kpi_engine_spec", None) is None:
            continue
        doc = textwrap.dedent(inspect.getdoc(value) or "")
        assert "Called" in doc and "Return" in doc, name


def test_two_plugins_cannot_register_the_same_function(write_project):
    root = write_project({
        "kpi.yml": "plugins: [a.py, b.py]\n",
        "a.py": PLUGIN,
        "b.py": PLUGIN.replace("EchoDuckDB", "OtherDuckDB").replace('name = "echo"', 'name = "other"'),
    })
    with pytest.raises(kpi_engine.DefinitionError, match=r"function clamp\(\) is registered by both"):
        kpi_engine.load(root)
