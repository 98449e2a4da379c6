"""Plugins: local modules, installed distributions, the built-in connectors, and their documentation."""

from __future__ import annotations

import datetime as dt
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import kpi_engine
from support.engines import write_tables
from kpi_engine import hookspecs
from kpi_engine.plugins import get_plugin_manager

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
from sqlglot import exp

from kpi_engine import FunctionSpec, hookimpl
from kpi_engine.sources.duckdb import DuckDBConnector


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


@pytest.mark.parametrize(("hook", "advice"), [
    ("register_conectors", "; did you mean 'register_connectors'?"),
    ("zzz", " (hooks: notify, register_connectors, register_functions)"),  # nothing close: the hooks there are
])
def test_a_misspelt_hook_is_an_error(write_project, hook, advice):
    root = write_project({
        "kpi.yml": "plugins: [p.py]\n",
        "p.py": f"from kpi_engine import hookimpl\n\n@hookimpl\ndef {hook}():\n    return []\n",
    })
    with pytest.raises(kpi_engine.DefinitionError) as info:
        kpi_engine.load(root)
    assert info.value.message == f"plugin {root / 'p.py'} implements '{hook}', which is not a kpi_engine hook{advice}"
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


def _hooks() -> dict[str, inspect.Signature]:
    """Every hook of kpi_engine/hookspecs.py, with its signature."""
    return {name: inspect.signature(value) for name, value in inspect.getmembers(hookspecs, inspect.isfunction)
            if getattr(value, "kpi_engine_spec", None) is not None}


def markdown_sections(text: str) -> list[tuple[str, str]]:
    """(heading line, text up to the next heading) for each ## or ### heading outside code blocks."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{2,3} ", line):
            sections.append((line, []))
            continue
        sections[-1][1].append(line)
    return [(heading, "\n".join(body) + "\n") for heading, body in sections[1:]]


def hook_doc_problems(docs: str, hooks: dict[str, inspect.Signature]) -> list[str]:
    """What the '## Hooks' part of docs/plugins.md lacks to document each hook like a public API.

    Each hook needs a section headed by its exact signature (``### name(args) -> return``, as in
    hookspecs.py) that says when it is **Called:**, its **Arguments:**, what it **Returns:**, and
    has a ``python`` example implementing it with ``@hookimpl``. A section for a hook that no
    longer exists is a problem too.
    """
    sections: dict[str, tuple[str, str]] = {}
    in_hooks = found_hooks = False
    for heading, body in markdown_sections(docs):
        if heading.startswith("## "):
            in_hooks = heading.strip() == "## Hooks"
            found_hooks = found_hooks or in_hooks
            continue
        named = re.match(r"### (\w+)\(", heading)
        if in_hooks and named:
            sections[named.group(1)] = (" ".join(heading.split()), body)
    if not found_hooks:
        return ["docs/plugins.md has no '## Hooks' section"]
    problems = [f"'### {name}(' documents no hook of hookspecs.py" for name in sections if name not in hooks]
    for name, signature in hooks.items():
        if name not in sections:
            problems.append(f"docs/plugins.md has no '### {name}(' section under '## Hooks'")
            continue
        heading, body = sections[name]
        expected = f"### {name}({', '.join(signature.parameters)})"
        returns = signature.return_annotation
        if returns is not inspect.Signature.empty:  # a string: hookspecs.py postpones annotations
            expected += f" -> {returns if isinstance(returns, str) else inspect.formatannotation(returns)}"
        if heading != expected:
            problems.append(f"the section of {name} is not headed by its signature: {expected!r}")
        for label in ("**Called:**", "**Arguments:**", "**Returns:**"):
            if label not in body:
                problems.append(f"the section of {name} does not say {label}")
        examples = re.findall(r"^```python\n(.*?)^```", body, re.M | re.S)
        if not any("@hookimpl" in code and re.search(rf"^def {name}\(", code, re.M) for code in examples):
            problems.append(f"the section of {name} has no python example that implements it with @hookimpl")
    return problems


def test_every_hook_is_documented_with_its_signature_arguments_return_and_an_example():
    hooks = _hooks()
    assert hooks, "hookspecs declares hooks"
    assert hook_doc_problems((ROOT / "docs" / "plugins.md").read_text(), hooks) == []
    for name in hooks:
        assert inspect.getdoc(getattr(hookspecs, name)), f"{name} has no docstring"


def _drop_section(docs: str, name: str) -> str:
    heading, body = next((h, b) for h, b in markdown_sections(docs) if h.startswith(f"### {name}("))
    return docs.replace(heading + "\n" + body, "")


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: _drop_section(d, "register_functions"),
     "docs/plugins.md has no '### register_functions(' section under '## Hooks'"),
    (lambda d: d.replace("### register_connectors() ->", "### register_connectors(plugin) ->"),
     "the section of register_connectors is not headed by its signature: "
     "'### register_connectors() -> list[type[Connector]]'"),
    (lambda d: d.replace("**Returns:** a list of the connector", "It returns a list of the connector"),
     "the section of register_connectors does not say **Returns:**"),
    (lambda d: d.replace("**Called:** once each time a project is loaded, after `register_connectors`",
                         "Once each time a project is loaded, after `register_connectors`"),
     "the section of register_functions does not say **Called:**"),
    (lambda d: d.replace("def register_functions() -> list[FunctionSpec]:", "def hook() -> list[FunctionSpec]:"),
     "the section of register_functions has no python example that implements it with @hookimpl"),
    (lambda d: d.replace("## Errors a plugin can cause", "### register_tables() -> list\n\n## Errors a plugin can cause"),
     "'### register_tables(' documents no hook of hookspecs.py"),
])
def test_the_hook_documentation_check_fails_on_a_gap(change, problem):
    """The check above is only worth something if it fails: each gap in a copy of the docs is found."""
    docs = (ROOT / "docs" / "plugins.md").read_text()
    changed = change(docs)
    assert changed != docs, "the change applies to the current docs"
    assert hook_doc_problems(changed, _hooks()) == [problem]


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
