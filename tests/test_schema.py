"""`kpi schema` agrees with the engine (SPEC §2-3, §6.1).

Each file of ``schema_corpus/<kind>/<verdict>/`` is a definition file (kind
``definitions``) or a kpi.yml (kind ``project``) that the engine accepts
(``valid``) or rejects (``invalid``) for its shape. The file is read as an editor
or a user's CI would read it (``yaml.safe_load``, YAML 1.1: ``on`` is true,
``123`` a number) and checked against ``kpi schema``'s JSON Schema (Draft
2020-12); the same file, alone in a project, is checked by ``kpi validate
--no-source``. Both must give the verdict of the folder the file is in.

Only shape problems belong in the corpus: what no JSON Schema can see (formulas,
references between definitions, warning against target, duplicate names) is
listed in ``kpi_engine/schema.py``'s docstring and tested elsewhere.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

import kpi_engine
from kpi_engine import DefinitionError, KpiError
from kpi_engine.cli import main
from kpi_engine.cli.schema import json_schema

CORPUS = Path(__file__).parent / "schema_corpus"
CASES = sorted(CORPUS.glob("*/*/*.yml"))
KINDS = ("definitions", "project")


@functools.cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json_schema(kind))


def engine_verdict(case: Path, root: Path) -> tuple[int, str]:
    """``kpi validate --no-source`` on a project made of ``case``: (exit code, output).

    The project also has the folders and the plugin module that the valid kpi.yml
    files of the corpus name (definitions/, extra/, plugins/noop.py), all empty.
    """
    for folder in ("definitions", "extra", "plugins"):
        (root / folder).mkdir(parents=True)
    (root / "plugins" / "noop.py").write_text('"""A local plugin that implements no hook."""\n')
    kind = case.parent.parent.name
    shutil.copy(case, root / "definitions" / case.name if kind == "definitions" else root / "kpi.yml")
    result = CliRunner().invoke(main, ["--project", str(root), "validate", "--no-source"])
    return result.exit_code, result.output


def case_id(case: Path) -> str:
    return case.relative_to(CORPUS).as_posix()


def test_the_corpus_has_both_verdicts_of_both_kinds():
    for kind in KINDS:
        for verdict in ("valid", "invalid"):
            assert len(list((CORPUS / kind / verdict).glob("*.yml"))) >= 5, (kind, verdict)
    assert not [p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".yml"]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_schema_and_engine_give_the_verdict_of_the_corpus(case, tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("KPI_SCHEMA_TEST_")]:
        monkeypatch.delenv(name)  # the corpus's ${VAR:-default} values take their defaults
    kind, verdict = case.parent.parent.name, case.parent.name
    valid = verdict == "valid"
    errors = list(validator(kind).iter_errors(yaml.safe_load(case.read_text())))
    code, output = engine_verdict(case, tmp_path / "project")

    disagreements = []
    if (not errors) != valid:
        found = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '(file)'}: {e.message}" for e in errors[:3])
        disagreements.append(f"the schema says {'invalid: ' + found if errors else 'valid'}")
    if (code == 0) != valid:
        disagreements.append(f"kpi validate says exit {code}: {output.strip()}")
    assert not disagreements, f"{case_id(case)} is {verdict}, but " + " | ".join(disagreements)
    assert code in (0, 1), output
    if not valid:  # one clear message pointing into the file
        assert f"{case.name if kind == 'definitions' else 'kpi.yml'}:" in output, output
        assert "Traceback" not in output, output


@pytest.mark.parametrize("which", ["all", "definitions", "project"])
def test_kpi_schema_prints_a_valid_draft_2020_12_schema(which):
    result = CliRunner().invoke(main, ["schema", which])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed == json_schema(which)


def test_the_shipped_library_and_the_demo_kpi_yml_pass_the_schema():
    from kpi_engine.demo.command import DEMO_DATABASE, PROJECT_FILE, library_path

    files = sorted(library_path().rglob("*.yml"))
    assert files
    for path in files:
        errors = [e.message for e in validator("definitions").iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, (path.name, errors[:3])
    assert validator("project").is_valid(yaml.safe_load(PROJECT_FILE.format(database=DEMO_DATABASE)))


def test_the_schema_of_all_files_takes_a_definition_file_and_a_kpi_yml():
    both = jsonschema.Draft202012Validator(json_schema("all"))
    assert both.is_valid({"kpis": {"k": {"formula": "1"}}})
    assert both.is_valid({"name": "helpdesk", "sources": {"default": {"connector": "duckdb"}}})
    assert not both.is_valid({"name": "helpdesk", "kpis": {}})


def test_a_join_key_on_read_as_true_by_yaml_1_1_stands_for_on():
    joins = jsonschema.Draft202012Validator(json_schema("definitions"))
    dataset = {"table": "t"}

    def with_join(join: dict) -> dict:
        return {"datasets": {"t": {**dataset, "joins": {"c": join}}}}

    assert yaml.safe_load("on: id") == {True: "id"}
    assert joins.is_valid(with_join({"dataset": "t", True: "id"}))
    assert joins.is_valid(with_join({"dataset": "t", "on": "id"}))
    assert not joins.is_valid(with_join({"dataset": "t", True: "id", "on": "id"}))  # written twice
    assert not joins.is_valid(with_join({"dataset": "t", False: "id"}))  # `off:` is no key of a join
    assert not joins.is_valid(with_join({"dataset": "t", True: "bad column"}))


# =========================================================================================
# The shape rules of the models, with their positions
# =========================================================================================
@pytest.fixture
def load_error(write_project):
    def load(text: str) -> tuple[str, KpiError]:
        root = write_project({"definitions/x.yml": text})
        with pytest.raises(KpiError) as info:
            kpi_engine.load(root)
        assert len(info.value.errors) == 1, [str(e) for e in info.value.errors]
        error = info.value.errors[0]
        assert type(error) is DefinitionError
        where = f"{Path(error.file).resolve().relative_to(root.resolve()).as_posix()}:{error.line}:{error.column}"
        return where, error

    return load


RESERVED = "'period' is reserved for the column of periods in every result; choose another name for this"


@pytest.mark.parametrize(("text", "where", "message"), [
    pytest.param(
        """
        datasets:
          t:
            table: t
        kpis:
          period:
            dataset: t
            formula: count()
        """,
        "definitions/x.yml:5:3", f"{RESERVED} KPI", id="KPI period"),
    pytest.param(
        """
        datasets:
          t:
            table: t
            dimensions:
              channel: channel
              period: created_month
        """,
        "definitions/x.yml:6:7", f"{RESERVED} dimension in dataset 't'", id="dimension period"),
    pytest.param(
        """
        datasets:
          t:
            time: created_at
            table: ""
        """,
        "definitions/x.yml:4:12", "table is empty in dataset 't'", id="empty table"),
    pytest.param(
        """
        datasets:
          t:
            sql: '   '
        """,
        "definitions/x.yml:3:10", "sql is empty in dataset 't'", id="blank sql"),
    pytest.param(
        """
        datasets:
          t:
            file: ''
        """,
        "definitions/x.yml:3:11", "file is empty in dataset 't'", id="empty file"),
])
def test_shape_rule_errors_point_at_the_name_or_value(load_error, text, where, message):
    at, error = load_error(text)
    assert (at, error.code, error.message) == (where, "schema", message)


def test_a_kpi_named_period_hides_nothing_else_and_is_not_reported_twice(write_project):
    """A KPI referring to the rejected one gets no second error (the name is marked broken)."""
    root = write_project({"definitions/x.yml": """
        datasets:
          t:
            table: t
        kpis:
          period:
            dataset: t
            formula: count()
          double:
            formula: period * 2
          bad:
            dataset: t
            formula: count()
            format: percentage
        """})
    with pytest.raises(KpiError) as info:
        kpi_engine.load(root)
    assert [(e.line, e.column) for e in info.value.errors] == [(5, 3), (13, 13)]
