"""Broken definitions beside the exact error they must give (SPEC §3-4.4, §6.2).

Each case is the YAML an analyst might write and the error ``kpi_engine.load``
must raise: file, line, column (1-based, counted by hand in the YAML below,
after ``write_project`` dedents it and strips the leading newline), the code and
the message, with a did-you-mean where a valid name is close. Every error is
also checked to be a KpiError with a position, never a raw yaml, pydantic or
lark exception.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydantic
import pytest
import yaml
from lark.exceptions import LarkError

import kpi_engine
from kpi_engine import DefinitionError, ErrorGroup, FormulaError, KpiError, QueryError


# =========================================================================================
# Helpers
# =========================================================================================
def check_wrapped(error: KpiError, *, positioned: bool = True) -> None:
    """Ours, never a third-party exception; with file/line/column unless nothing written is at fault."""
    assert isinstance(error, KpiError)
    assert not isinstance(error, (pydantic.ValidationError, yaml.YAMLError, LarkError))
    if positioned:
        assert (error.file, error.line, error.column) != (None, None, None), error
        assert None not in (error.file, error.line, error.column), error
        assert error.render().startswith(f"{error.span}: error[{error.code}]: {error.message}")


def position(error: KpiError, root: Path) -> str:
    """``definitions/x.yml:7:23``: the error's place, relative to the project folder."""
    path = Path(error.file).resolve()
    return f"{path.relative_to(root.resolve()).as_posix()}:{error.line}:{error.column}"


@pytest.fixture
def load_errors(write_project):
    """load_errors({path: yaml}) -> [(position, error)] of every error load() raises."""

    def load(files: dict[str, str]) -> list[tuple[str, KpiError]]:
        root = write_project(files)
        with pytest.raises(KpiError) as info:
            kpi_engine.load(root)
        raised = info.value
        if len(raised.errors) > 1:
            assert isinstance(raised, ErrorGroup)
        for error in raised.errors:
            check_wrapped(error)
        return [(position(error, root), error) for error in raised.errors]

    return load


@pytest.fixture
def load_error(load_errors):
    """load_error({path: yaml}) -> (position, error) of the only error load() raises."""

    def load(files: dict[str, str]) -> tuple[str, KpiError]:
        errors = load_errors(files)
        assert len(errors) == 1, [str(e) for _, e in errors]
        return errors[0]

    return load


# =========================================================================================
# YAML syntax
# =========================================================================================
YAML_ERRORS = [
    pytest.param(
        """
        kpis:
          a:
            dataset: t
           formula: count()
        """,
        "definitions/x.yml:4:4", "invalid YAML: did not find expected key", id="bad indentation"),
    pytest.param(
        """
        kpis:
          a:
            tags: [support, ops
            formula: count()
        """,
        "definitions/x.yml:4:12", "invalid YAML: did not find expected ',' or ']'", id="unclosed bracket"),
    pytest.param(
        "kpis:\n\ta:\n    formula: count()\n",
        "definitions/x.yml:2:1", "invalid YAML: a tab character: YAML indents with spaces only", id="tab"),
    pytest.param(
        """
        kpis:
          a:
            formula: 1
        ---
        kpis: {}
        """,
        "definitions/x.yml:4:1", "invalid YAML:", id="two documents"),
    pytest.param(
        """
        kpis:
          ? [a, b]
          : 1
        """,
        "definitions/x.yml:2:5", "a mapping key must be a plain name", id="complex key"),
]


@pytest.mark.parametrize(("text", "where", "message"), YAML_ERRORS)
def test_yaml_syntax_error(load_error, text, where, message):
    at, error = load_error({"definitions/x.yml": text})
    assert at == where
    assert type(error) is DefinitionError
    assert error.code == "yaml"
    assert error.message.startswith(message)
    assert isinstance(error.__cause__, yaml.YAMLError) or error.__cause__ is None


@pytest.mark.parametrize(("text", "phrase"), [
    pytest.param(YAML_ERRORS[1].values[0], "line 3", id="unclosed bracket names where it opened"),
    pytest.param(YAML_ERRORS[2].values[0], "tab", id="tab is named"),
    pytest.param(YAML_ERRORS[3].values[0], "single document", id="two documents"),
])
def test_yaml_messages_say_what_is_wrong(load_error, text, phrase):
    _, error = load_error({"definitions/x.yml": text})
    assert phrase in error.message


def test_duplicate_key_names_both_lines(load_error):
    at, error = load_error({"definitions/x.yml": """
        kpis:
          a:
            formula: count()
            formula: sum(x)
        """})
    assert at == "definitions/x.yml:4:5"
    assert (error.code, error.message) == ("duplicate-key", "duplicate key 'formula' (first written at line 3)")


def test_file_that_is_not_utf8(write_project):
    root = write_project({"definitions/a.yml": "kpis: {}\n"})
    (root / "definitions" / "x.yml").write_bytes(b"kpis:\n  a:\n    title: caf\xe9\n    formula: 1\n")
    with pytest.raises(DefinitionError) as info:
        kpi_engine.load(root)
    assert info.value.code == "yaml"
    assert "is not UTF-8 text" in info.value.message
    check_wrapped(info.value, positioned=False)


def test_file_that_is_not_utf8_is_positioned(write_project):
    root = write_project({"definitions/a.yml": "kpis: {}\n"})
    (root / "definitions" / "x.yml").write_bytes(b"kpis:\n  a:\n    title: caf\xe9\n    formula: 1\n")
    with pytest.raises(DefinitionError) as info:
        kpi_engine.load(root)
    assert info.value.file is not None
    assert position(info.value, root) == "definitions/x.yml:3:15"


# =========================================================================================
# The shape of a definition file (pydantic models)
# =========================================================================================
SCHEMA_ERRORS = [
    pytest.param(
        """
        datasets:
          t:
            table: t
        kpis:
          a:
            dataset: t
            formla: count()
            formula: count()
        """,
        "definitions/x.yml:7:5", "unknown key 'formla' in KPI 'a'; did you mean 'formula'?", id="formla"),
    pytest.param(
        """
        datasets:
          tickets:
            table: tickets
            dimensons:
              channel: channel
        """,
        "definitions/x.yml:4:5", "unknown key 'dimensons' in dataset 'tickets'; did you mean 'dimensions'?",
        id="dimensons"),
    pytest.param(
        """
        kpi:
          a:
            formula: 1
        """,
        "definitions/x.yml:1:1", "unknown key 'kpi'; did you mean 'kpis'?", id="kpi instead of kpis"),
    pytest.param(
        """
        zzz:
          a:
            formula: 1
        """,
        "definitions/x.yml:1:1", "unknown key 'zzz' (expected datasets or kpis)", id="unknown section, nothing close"),
    pytest.param(
        """
        kpis:
          a:
            dataset: 9lives
            formula: count()
        """,
        "definitions/x.yml:3:14",
        "dataset '9lives' is not a name: names are lower-case letters, digits and _, starting with a letter",
        id="not a name, nothing to suggest"),
    pytest.param(
        """
        kpis:
          a:
            formula: 1
            colour: red
        """,
        "definitions/x.yml:4:5",
        "unknown key 'colour' in KPI 'a' (expected one of: title, description, dataset, formula, filter, "
        "format, unit, decimals, direction, target, warning, owner, tags, hidden)", id="unknown key, nothing close"),
    pytest.param(
        """
        datasets:
          t:
            table: t
        kpis:
          a:
            dataset: t
            title: Opened
        """,
        "definitions/x.yml:5:3", "missing required key 'formula' in KPI 'a'", id="formula missing"),
    pytest.param(
        """
        kpis:
          a:
            formula: 1
            target: 75%
        """,
        "definitions/x.yml:4:13", "target must be a number; got '75%'", id="target 75%"),
    pytest.param(
        """
        kpis:
          a:
            formula: 1
            hidden: maybe
        """,
        "definitions/x.yml:4:13", "hidden must be true or false; got 'maybe'", id="hidden maybe"),
    pytest.param(
        """
        kpis:
          a:
            formula: 1
            format: percentage
        """,
        "definitions/x.yml:4:13",
        "format must be one of number, integer, percent, currency, duration; got 'percentage'; "
        "did you mean 'percent'?", id="format percentage"),
    pytest.param(
        """
        kpis:
          a:
            formula: 1
            direction: up
        """,
        "definitions/x.yml:4:16", "direction must be one of higher, lower, none; got 'up'", id="direction up"),
    pytest.param(
        """
        kpis:
          a:
            formula: 1
            decimals: 1.5
        """,
        "definitions/x.yml:4:15", "decimals must be a whole number; got '1.5'", id="decimals 1.5"),
    pytest.param(
        """
        kpis:
          a:
            formula: 1
            tags: support
        """,
        "definitions/x.yml:4:11", "tags must be a list, e.g. [a, b]; got 'support'", id="tags not a list"),
    pytest.param(
        """
        kpis:
          a:
            formula: [count, sum]
        """,
        "definitions/x.yml:3:14", "formula must be text; got a list", id="formula is a list"),
    pytest.param(
        """
        kpis:
          a: count()
        """,
        "definitions/x.yml:2:6", "expected a mapping of keys in KPI 'a', got 'count()'", id="KPI body is text"),
    pytest.param(
        """
        kpis: [a, b]
        """,
        "definitions/x.yml:1:7", "'kpis' must be a mapping of names to definitions", id="kpis is a list"),
    pytest.param(
        """
        kpis:
          Bad-Name:
            formula: 1
        """,
        "definitions/x.yml:2:3",
        "invalid name 'Bad-Name': names are lower-case letters, digits and _, starting with a letter "
        "(pattern [a-z][a-z0-9_]*)", id="bad KPI name"),
    pytest.param(
        """
        datasets:
          t:
            table: t
            dimensions:
              Channel: channel
        """,
        "definitions/x.yml:5:7",
        "invalid name 'Channel': names are lower-case letters, digits and _, starting with a letter "
        "(pattern [a-z][a-z0-9_]*)", id="bad dimension name"),
    pytest.param(
        """
        datasets:
          t:
            table: t
            active:
              to: churned_at
        """,
        "definitions/x.yml:4:5", "missing required key 'from' in dataset 't'", id="active without from"),
]


@pytest.mark.parametrize(("text", "where", "message"), SCHEMA_ERRORS)
def test_schema_error(load_error, text, where, message):
    at, error = load_error({"definitions/x.yml": text})
    assert (at, error.message) == (where, message)
    assert type(error) is DefinitionError
    assert error.code == "schema"


@pytest.mark.parametrize(("text", "message"), [
    pytest.param(
        """
        datasets:
          t:
            table: t
            sql: select 1
        """,
        "a dataset needs exactly one of 'table', 'sql' or 'file' (got table, sql) in dataset 't'", id="both"),
    pytest.param(
        """
        datasets:
          t:
            time: created_at
        """,
        "a dataset needs exactly one of 'table', 'sql' or 'file' in dataset 't'", id="none"),
])
def test_dataset_needs_exactly_one_relation(load_error, text, message):
    _, error = load_error({"definitions/x.yml": text})
    assert (error.code, error.message) == ("schema", message)


@pytest.mark.parametrize("text", [
    pytest.param(
        """
        datasets:
          t:
            table: t
            sql: select 1
        """, id="both"),
    pytest.param(
        """
        datasets:
          t:
            time: created_at
        """, id="none"),
])
def test_dataset_relation_error_points_at_the_dataset(load_error, text):
    at, _ = load_error({"definitions/x.yml": text})
    assert at == "definitions/x.yml:2:3"


def test_join_on_with_one_column_points_at_on(load_error):
    at, error = load_error({"definitions/x.yml": """
        datasets:
          t:
            table: t
            joins:
              c:
                dataset: t
                on: [customer_id]
        """})
    assert "'on' takes one column name or a list of two" in error.message
    assert at == "definitions/x.yml:7:13"


def test_badly_spelt_dataset_name(load_error):
    at, error = load_error({"definitions/x.yml": """
        datasets:
          tickets:
            table: tickets
        kpis:
          a:
            dataset: Tickets
            formula: count()
        """})
    assert at == "definitions/x.yml:6:14"
    assert error.message == ("dataset 'Tickets' is not a name: names are lower-case letters, digits and _, "
                             "starting with a letter; did you mean 'tickets'?")


def test_bad_column_name(load_error):
    at, error = load_error({"definitions/x.yml": """
        datasets:
          t:
            table: t
            time: created at
        """})
    assert at == "definitions/x.yml:4:11"
    assert (error.code, error.message) == ("bad-column", "'created at' is not a column name (letters, digits and _)")


def test_warning_on_the_wrong_side_of_target(load_error):
    at, error = load_error({"definitions/x.yml": """
        kpis:
          a:
            formula: 1
            target: 0.5
            warning: 0.7
        """})
    assert at == "definitions/x.yml:5:14"
    assert error.message == "with direction higher, warning (0.7) must be below target (0.5)"


def test_errors_of_one_file_come_in_file_order(load_errors):
    errors = load_errors({"definitions/x.yml": """
        kpis:
          a:
            formula: 1
            target: 75%
            hidden: maybe
            format: percentage
            direction: up
        """})
    assert [at for at, _ in errors] == [
        "definitions/x.yml:4:13", "definitions/x.yml:5:13", "definitions/x.yml:6:13", "definitions/x.yml:7:16"]


# -- null values --------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "check"), [
    pytest.param("kpis:\n  a:\n    formula: 1\n    target: null\n", lambda p: p.kpis["a"].target is None,
                 id="target: null"),
    pytest.param("kpis:\n  a:\n    formula: 1\n    target: ~\n", lambda p: p.kpis["a"].target is None,
                 id="target: ~"),
    pytest.param("kpis:\n  a:\n    formula: 1\n    target:\n", lambda p: p.kpis["a"].target is None,
                 id="target: (empty)"),
    pytest.param("datasets:\n  t:\n    table: t\n    active:\n      from: a\n      to: null\n",
                 lambda p: p.datasets["t"].active.to is None, id="active to: null (still active)"),
    pytest.param("datasets:\n  t:\n    table: t\nkpis:\n  a:\n    dataset: t\n    formula: count()\n    filter:\n",
                 lambda p: p.kpis["a"].filter is None, id="filter: (empty)"),
])
def test_null_values_are_null(write_project, text, check):
    project = kpi_engine.load(write_project({"definitions/x.yml": text}))
    assert check(project)


def test_empty_kpi_body(load_error):
    _, error = load_error({"definitions/x.yml": "kpis:\n  a:\n"})
    assert error.message == "expected a mapping of keys in KPI 'a', got nothing"


# =========================================================================================
# Names: unique across the project
# =========================================================================================
def test_duplicate_kpi_across_two_files_names_both_places(load_error):
    at, error = load_error({
        "definitions/a.yml": """
            kpis:
              nps:
                formula: 1
            """,
        "definitions/b.yml": """
            kpis:
              other:
                formula: 2
              nps:
                formula: 3
            """,
    })
    assert at == "definitions/b.yml:4:3"
    assert error.code == "duplicate-name"
    assert error.message.startswith("'nps' is defined twice; first at ")
    assert error.message.endswith("definitions/a.yml:2:3")


def test_a_kpi_and_a_dataset_with_the_same_name(load_error):
    at, error = load_error({"definitions/x.yml": """
        datasets:
          tickets:
            table: tickets
        kpis:
          tickets:
            dataset: tickets
            formula: count()
        """})
    assert at == "definitions/x.yml:5:3"
    assert error.message.startswith("'tickets' is defined twice; first at ")
    assert error.message.endswith("definitions/x.yml:2:3")


# =========================================================================================
# Formula positions inside YAML scalars of every style
# =========================================================================================
HEAD = """
datasets:
  t:
    table: t
kpis:
  k:
    dataset: t
"""  # the KPI's formula starts on line 7

SCALARS = [
    pytest.param("    formula: sum(x) + cnt()\n", "7:23", id="plain"),
    pytest.param("    formula: 'count(where s = ''a'') + cnt()'\n", "7:40", id="single-quoted with ''"),
    pytest.param("    formula: \"count(where s = 'a') + cnt()\"\n", "7:38", id="double-quoted"),
    pytest.param("    formula: \"count(where s = '\\t') + cnt()\"\n", "7:39", id="double-quoted with escape"),
    pytest.param("    formula: \"count(where s = '\\u00e9') + cnt()\"\n", "7:43", id="double-quoted with \\u"),
    pytest.param("    formula: |\n      count(where s = 'a')\n        / cnt()\n", "9:11", id="literal block"),
    pytest.param("    formula: |-\n      count()  # all\n        / cnt()\n", "9:11", id="literal block, strip"),
    pytest.param("    formula: >\n      count(where s = 'a')\n      / cnt()\n", "9:9", id="folded block"),
    pytest.param("    formula: >-\n      count()\n\n      + cnt()\n", "10:9", id="folded block, blank line"),
    pytest.param("    formula: |\n      # the share\n      count() / cnt()\n", "9:17", id="block with a comment"),
    pytest.param("    formula: count()\n      + cnt()\n", "8:9", id="plain on two lines"),
    pytest.param("    formula: 'count()\n      + cnt()'\n", "8:9", id="single-quoted on two lines"),
    pytest.param("    formula: \"count() \\\n      + cnt()\"\n", "8:9", id="double-quoted, escaped newline"),
]


@pytest.mark.parametrize(("formula", "where"), SCALARS)
def test_formula_error_points_at_the_token_in_the_file(load_error, formula, where):
    at, error = load_error({"definitions/x.yml": HEAD + formula})
    assert at == f"definitions/x.yml:{where}"
    assert type(error) is FormulaError
    assert (error.code, error.message) == ("unknown-function", "unknown function 'cnt'; did you mean 'count'?")
    assert error.span.end_column - error.span.column == 3  # the caret covers 'cnt'


def test_formula_in_a_flow_mapping(load_error):
    at, error = load_error({"definitions/x.yml": """
        datasets:
          t:
            table: t
        kpis:
          k: {dataset: t, formula: count() + cnt()}
        """})
    assert at == "definitions/x.yml:5:38"


SYNTAX_IN_YAML = [
    pytest.param("    formula: |\n      count(where s = 'a')\n        / count(where s = )\n",
                 "9:27", "missing value after an operator", id="2nd line of a literal block"),
    pytest.param("    formula: >\n      count(where s = 'a')\n      /\n      count(where s ;\n",
                 "10:21", "unexpected character ';'", id="3rd line of a folded block"),
    pytest.param("    formula: |\n      count(where s = 'a)\n",
                 "8:23", "unterminated string: a closing ' is missing", id="unterminated string in a block"),
    pytest.param("    formula: 'count() count()'\n",
                 "7:23", "missing operator between two values", id="single-quoted"),
    pytest.param("    formula: sum(\n", "7:17", "missing closing parenthesis", id="ends too early"),
    pytest.param("    formula: '# nothing'\n", "7:15", "empty formula", id="only a comment"),
]


@pytest.mark.parametrize(("formula", "where", "message"), SYNTAX_IN_YAML)
def test_syntax_error_in_yaml(load_error, formula, where, message):
    at, error = load_error({"definitions/x.yml": HEAD + formula})
    assert at == f"definitions/x.yml:{where}"
    assert (error.code, error.message) == ("syntax", message)


def test_empty_formula_points_at_its_key(load_error):
    at, error = load_error({"definitions/x.yml": HEAD + "    formula:\n"})
    assert at == "definitions/x.yml:7:5"
    assert (error.code, error.message) == ("schema", "formula is empty in KPI 'k'")


def test_render_shows_the_yaml_line_and_a_caret(load_error):
    _, error = load_error({"definitions/x.yml": HEAD + "    formula: |\n      count()\n        / cnt()\n"})
    first, *rest = error.render().splitlines()
    assert first.endswith("definitions/x.yml:9:11: error[unknown-function]: "
                          "unknown function 'cnt'; did you mean 'count'?")
    assert rest == [
        "  |",
        "9 |         / cnt()",
        "  |           ^^^",
    ]


# =========================================================================================
# Every semantic rule of SPEC §4.4, before any SQL runs
# =========================================================================================
PROJECT = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
      plan: customer.plan
    joins:
      customer:
        dataset: customers
        on: customer_id
  customers:
    table: customers
    time: signup_at
    active:
      from: signup_at
      to: churned_at
  orders:
    table: orders
    time: ordered_at
kpis:
  opened:
    dataset: tickets
    formula: count()
  probe:
    dataset: tickets
    formula: {formula}
"""  # 'probe' formula starts at line 27, column 14

RULES = [
    # (formula, column on line 27, code, message, hint or None)
    ("count(sum(x))", 20, "nested-aggregate", "aggregate sum() inside aggregate count()",
     "an aggregate's argument is a row expression; combine aggregates outside them"),
    ("sum(x) / avg(max(x) + 1)", 27, "nested-aggregate", "aggregate max() inside aggregate avg()", ...),
    ("count(where status = 'open' and count() > 1)", 46, "nested-aggregate",
     "aggregate count() inside aggregate count()", ...),
    ("handle_seconds / 2", 14, "unknown-kpi", "unknown KPI 'handle_seconds'",
     "a column must be inside an aggregate, e.g. sum(handle_seconds)"),
    ("tickets.handle_seconds", 14, "bare-column", "column 'tickets.handle_seconds' is outside an aggregate",
     "aggregate it, e.g. sum(tickets.handle_seconds) or count_distinct(tickets.handle_seconds)"),
    ("opend * 2", 14, "unknown-kpi", "unknown KPI 'opend'; did you mean 'opened'?", ...),
    ("cnt()", 14, "unknown-function", "unknown function 'cnt'; did you mean 'count'?", None),
    ("averge(x)", 14, "unknown-function", "unknown function 'averge'; did you mean 'avg'?", None),
    ("COUNT()", 14, "unknown-function", "function names are lower case: write count()", None),
    ("percentile(x)", 14, "arity", "percentile() takes 2 arguments: percentile(x, p)", None),
    ("sum()", 14, "arity", "sum() takes 1 argument: sum(x)", None),
    ("count() / nullif(count())", 24, "arity", "nullif() takes 2 arguments: nullif(a, b)", None),
    ("count(x, y)", 14, "arity",
     "count() takes 0 to 1 arguments: count() | count(*) | count(x) | count(dataset.*)", None),
    ("growth(count(), 2, year, 1)", 14, "arity",
     "growth() takes 1 to 3 arguments: growth(x) | growth(x, n) | growth(x, n, unit)", None),
    ("previous(count(), 1, decade)", 35, "bad-argument",
     "previous() unit must be one of day, week, month, quarter, year; got 'decade'", None),
    ("growth(count(), 1, 'yaer')", 33, "bad-argument",
     "growth() unit must be one of day, week, month, quarter, year; got 'yaer'; did you mean 'year'?", None),
    ("previous(count(), 0, year)", 32, "bad-argument",
     "previous() takes a whole number of units from 1 to 100,000 as its second argument", None),
    ("count(where period_days() > 28)", 26, "period-not-allowed",
     "period_days() is not allowed inside aggregate count(): it is a number of the period, not of a row",
     "use it outside aggregates: count() / period_days()"),
    ("count() / period_days(1)", 24, "arity", "period_days() takes no arguments: period_days()", None),
    ("count(tickts.*)", 20, "unknown-dataset", "unknown dataset or join 'tickts'; did you mean 'tickets'?", None),
    ("sum(custmer.plan)", 18, "unknown-dataset", "unknown dataset or join 'custmer'; did you mean 'customer'?",
     None),
    ("coalesce(count(), 0 where x)", 40, "where-not-allowed",
     "'where' only goes inside an aggregate, not coalesce()", None),
    ("sum(previous(x))", 18, "window-not-allowed",
     "previous() is not allowed inside aggregate sum(); it applies to a whole formula: e.g. previous(count())",
     None),
    ("count(where previous(x) > 1)", 26, "window-not-allowed",
     "previous() is not allowed inside aggregate count(); it applies to a whole formula: e.g. previous(count())",
     None),
    ("rolling(rolling(count(), 2), 3)", 14, "bad-window", "rolling() cannot contain rolling(..., 2)", None),
    ("count(*, at=end)", 23, "no-active", "at=end needs 'active:' (from/to columns) on dataset 'tickets'",
     "add active: {from: <column>, to: <column>} to the dataset"),
    ("count(customers.*, at=middle)", 36, "bad-argument", "at= takes start or end", None),
    ("count(customers.*, at=end, time=churned_at)", 41, "bad-argument",
     "time= and at= cannot be combined: a stock aggregate places rows by their active span", None),
    ("count(at=end)", 20, "named-argument",
     "'at=end' as the first argument is a comparison of columns 'at' and 'end'; "
     "named arguments follow a first argument", "write count(*, at=end)"),
    ("count(x, tme=closed_at)", 23, "bad-argument", "unknown argument 'tme' of count(); did you mean 'time'?",
     None),
    ("count(x, time=a, time=b)", 31, "bad-argument", "time= is given twice", None),
    ("previous(count(), 0)", 32, "bad-argument",
     "previous() takes a whole number of periods from 1 to 100,000 as its second argument", None),
    ("rolling(count(), 1.5)", 31, "bad-argument",
     "rolling() takes a whole number of periods from 1 to 100,000 as its second argument", None),
    ("percentile(x, 2)", 28, "bad-argument", "percentile() takes p between 0 and 1, e.g. percentile(x, 0.9)",
     None),
    ("to_date(count(), decade)", 31, "bad-argument",
     "to_date() grain must be one of week, month, quarter, year, fiscal_quarter, fiscal_year; got 'decade'", None),
    ("to_date(count(), quartr)", 31, "bad-argument",
     "to_date() grain must be one of week, month, quarter, year, fiscal_quarter, fiscal_year; got 'quartr'; did you mean 'quarter'?", None),
    ("sum(*)", 18, "syntax", "'*' can only be the argument of count(), not sum()", None),
    ("previous(*)", 23, "syntax", "'*' can only be the argument of count()", None),
    ("sum(orders.amount + customers.x)", 14, "two-datasets",
     "one aggregate reads one dataset; this one reads 'orders' and 'customers'",
     "split it into one aggregate per dataset"),
]


@pytest.mark.parametrize(("formula", "column", "code", "message", "hint"), RULES, ids=[r[0] for r in RULES])
def test_formula_rule(load_error, formula, column, code, message, hint):
    at, error = load_error({"definitions/x.yml": PROJECT.replace("{formula}", formula)})
    assert at == f"definitions/x.yml:27:{column}"
    assert type(error) is FormulaError
    assert (error.code, error.message) == (code, message)
    if hint is not ...:
        assert error.hint == hint


def test_aggregate_in_a_dimension_or_a_filter_and_unknown_datasets(load_errors):
    errors = load_errors({"definitions/x.yml": """
        datasets:
          tickets:
            table: tickets
            dimensions:
              total: sum(x)
              before: previous(channel)
              plan: custmer.plan
            joins:
              customer:
                dataset: custmers
                on: customer_id
          customers:
            table: customers
        kpis:
          filtered:
            dataset: tickets
            filter: count() > 1
            formula: count()
          typo:
            dataset: tickts
            formula: count()
          constant:
            formula: count()
          unfiltered:
            formula: 1
            filter: x = 1
          joined:
            dataset: tickets
            formula: count()
            filter: custmer.plan = 'pro'
        """})
    assert [(at, e.code, e.message) for at, e in errors] == [
        # in the order they are written
        ("definitions/x.yml:5:14", "aggregate-not-allowed", "aggregate sum() is not allowed in a dimension"),
        ("definitions/x.yml:6:15", "window-not-allowed",
         "previous() is not allowed in a dimension; it applies to a whole formula: e.g. previous(count())"),
        ("definitions/x.yml:7:13", "unknown-join",
         "unknown join 'custmer' of dataset 'tickets'; did you mean 'customer'?"),
        ("definitions/x.yml:10:18", "unknown-dataset", "unknown dataset 'custmers'; did you mean 'customers'?"),
        ("definitions/x.yml:17:13", "aggregate-not-allowed", "aggregate count() is not allowed in a filter"),
        ("definitions/x.yml:20:14", "unknown-dataset", "unknown dataset 'tickts'; did you mean 'tickets'?"),
        ("definitions/x.yml:23:14", "no-dataset", "count() reads no dataset: the KPI has no 'dataset:'"),
        ("definitions/x.yml:26:13", "no-dataset", "a filter needs the KPI's dataset: add 'dataset:'"),
        ("definitions/x.yml:30:13", "unknown-join",
         "unknown join 'custmer' of dataset 'tickets'; did you mean 'customer'?"),
    ]
    no_dataset = errors[6][1]
    assert no_dataset.hint == "add 'dataset:' to the KPI, or name it: count(tickets.*), sum(orders.amount)"


def test_a_join_alias_that_names_a_dataset(load_errors):
    """'alias.column' must not be ambiguous: an alias is not its dataset's own name, nor another
    dataset's unless the join is to that dataset; one message per alias, at the alias."""
    errors = load_errors({"definitions/x.yml": """
        datasets:
          tickets:
            table: tickets
            joins:
              tickets: {dataset: customers, on: id}
              agents: {dataset: customers, on: id}
              customers: {dataset: customers, on: id}
          customers:
            table: customers
          agents:
            table: agents
            joins:
              agents: {dataset: zzz, on: id}
              tickets: {dataset: zzz, on: id}
        """})
    own = "is the dataset's own name; choose another alias"
    ambiguous = "choose another alias so 'alias.column' is not ambiguous"
    assert [(at, e.code, e.message) for at, e in errors] == [
        # the own name wins over "also the name of dataset 'tickets'": one message per alias
        ("definitions/x.yml:5:7", "ambiguous-join", f"join alias 'tickets' {own}"),
        ("definitions/x.yml:6:7", "ambiguous-join",
         f"join alias 'agents' is also the name of dataset 'agents'; {ambiguous}"),
        # line 7: an alias that is the name of the dataset it joins is that dataset
        ("definitions/x.yml:13:7", "ambiguous-join", f"join alias 'agents' {own}"),
        ("definitions/x.yml:13:25", "unknown-dataset", "unknown dataset 'zzz'"),
        # a join to an unknown dataset says that, not what its alias might clash with
        ("definitions/x.yml:14:26", "unknown-dataset", "unknown dataset 'zzz'"),
    ]


def test_unknown_source(load_error):
    at, error = load_error({"definitions/x.yml": """
        datasets:
          t:
            table: t
            source: warehouse
        """})
    assert at == "definitions/x.yml:4:13"
    assert (error.code, error.message) == ("unknown-source", "unknown source 'warehouse'")
    assert error.hint == "sources are defined in kpi.yml"


# -- cycles ---------------------------------------------------------------------------------
def test_cycle_is_reported_once_and_listed(load_error):
    at, error = load_error({"definitions/x.yml": """
        kpis:
          a:
            formula: b + 1
          b:
            formula: a * 2
          uses_a:
            formula: a + 1
        """})
    assert at == "definitions/x.yml:5:14"
    assert (error.code, error.message) == ("cycle", "KPI references form a cycle: a → b → a")


def test_self_reference(load_error):
    at, error = load_error({"definitions/x.yml": """
        kpis:
          loop:
            formula: 2 * loop
        """})
    assert at == "definitions/x.yml:3:18"
    assert error.message == "KPI references form a cycle: loop → loop"


def test_longer_cycle_across_files(load_error):
    at, error = load_error({
        "definitions/a.yml": "kpis:\n  e:\n    formula: f\n  f:\n    formula: g\n",
        "definitions/b.yml": "kpis:\n  g:\n    formula: e / 2\n",
    })
    assert at == "definitions/b.yml:3:14"
    assert error.message == "KPI references form a cycle: e → f → g → e"


# =========================================================================================
# ${VAR} interpolation
# =========================================================================================
KPI_YML = """
    name: helpdesk
    sources:
      default:
        connector: duckdb
        database: {database}
    """
ONE_KPI = {"definitions/x.yml": "kpis:\n  a:\n    formula: 1\n"}


def test_unset_variable(load_error, monkeypatch):
    monkeypatch.delenv("HELPDESK_DB", raising=False)
    at, error = load_error({"kpi.yml": KPI_YML.replace("{database}", "${HELPDESK_DB}"), **ONE_KPI})
    assert at == "kpi.yml:5:15"
    assert (error.code, error.message) == ("env", "environment variable 'HELPDESK_DB' is not set")
    assert error.hint == "export HELPDESK_DB=... or write ${HELPDESK_DB:-default}"


def test_unset_variable_inside_a_value_points_at_it(load_error, monkeypatch):
    monkeypatch.delenv("HELPDESK_DIR", raising=False)
    at, _ = load_error({"kpi.yml": KPI_YML.replace("{database}", "data/${HELPDESK_DIR}/h.duckdb"), **ONE_KPI})
    assert at == "kpi.yml:5:20"


def test_variable_default_and_value(write_project, monkeypatch):
    monkeypatch.delenv("HELPDESK_DB", raising=False)
    monkeypatch.setenv("HELPDESK_OWNER", "support-ops")
    root = write_project({
        "kpi.yml": KPI_YML.replace("{database}", "${HELPDESK_DB:-:memory:}"),
        "definitions/x.yml": "kpis:\n  a:\n    formula: 1\n    owner: ${HELPDESK_OWNER}\n",
    })
    project = kpi_engine.load(root)
    assert project.config.sources["default"].options == {"database": ":memory:"}
    assert project.kpis["a"].owner == "support-ops"


def test_double_dollar_is_a_literal_dollar(write_project, monkeypatch):
    monkeypatch.delenv("NOT_A_VARIABLE", raising=False)
    root = write_project({"definitions/x.yml": """
        kpis:
          a:
            formula: 1
            title: costs $$5 and $${NOT_A_VARIABLE}
        """})
    assert kpi_engine.load(root).kpis["a"].title == "costs $5 and ${NOT_A_VARIABLE}"


# =========================================================================================
# kpi.yml
# =========================================================================================
def test_kpi_yml_errors(load_errors):
    errors = load_errors({"kpi.yml": """
        sources:
          default:
            connector: duckbd
        definitions: [definitions, defs]
        """, **ONE_KPI})
    assert [(at, e.code, e.message) for at, e in errors] == [
        ("kpi.yml:3:16", "connector", "unknown connector 'duckbd'; did you mean 'duckdb'?"),
        ("kpi.yml:4:28", "missing-path", "definitions path 'defs' does not exist"),
    ]


def test_calendar_errors_point_at_their_values(load_errors):
    errors = load_errors({"kpi.yml": """
        calendar:
          timezone: America/Sao_Paul
          week_start: sundy
          fiscal_year_start: 13
        """, **ONE_KPI})
    assert [(at, e.message) for at, e in errors] == [
        ("kpi.yml:2:13", "unknown time zone 'America/Sao_Paul'; did you mean 'America/Sao_Paulo'?"),
        ("kpi.yml:3:15", "week_start must be one of monday, sunday, saturday; got 'sundy'; did you mean 'sunday'?"),
        ("kpi.yml:4:22", "fiscal_year_start input should be less than or equal to 12; got 13"),
    ]


def test_a_dataset_time_zone_is_checked_with_a_suggestion(load_error):
    at, error = load_error({"definitions/a.yml": """
        datasets:
          t:
            table: t
            time: at
            timezone: Europe/Berln
        """})
    assert at == "definitions/a.yml:5:15"
    assert error.message == "unknown time zone 'Europe/Berln' in dataset 't'; did you mean 'Europe/Berlin'?"


def test_kpi_yml_unknown_key(load_error):
    at, error = load_error({"kpi.yml": "name: x\ndefinitons: [definitions]\n", **ONE_KPI})
    assert at == "kpi.yml:2:1"
    assert error.message == "unknown key 'definitons'; did you mean 'definitions'?"


# =========================================================================================
# Several errors at once
# =========================================================================================
def test_every_formula_error_of_every_file_at_once_in_a_stable_order(write_project):
    root = write_project({
        "definitions/a.yml": """
            kpis:
              a1:
                formula: cnt()
              a2:
                formula: a1 + 1
              a3:
                formula: 1 +
            """,
        "definitions/b.yml": """
            kpis:
              b1:
                formula: a9
              b2:
                formula: a1 * 2 + a2
              b3:
                formula: sum(
            """,
    })
    with pytest.raises(ErrorGroup) as info:
        kpi_engine.load(root)
    group = info.value
    # a2 and b2 only reference the broken a1: they are not reported again
    assert [(position(e, root), e.code, e.message) for e in group.errors] == [
        ("definitions/a.yml:3:14", "unknown-function", "unknown function 'cnt'; did you mean 'count'?"),
        ("definitions/a.yml:7:16", "syntax", "missing value after an operator"),
        ("definitions/b.yml:3:14", "unknown-kpi", "unknown KPI 'a9'"),
        ("definitions/b.yml:7:17", "syntax", "missing closing parenthesis"),
    ]
    assert group.exit_code == 1
    assert group.render() == "\n\n".join(e.render() for e in group.errors)
    assert (group.file, group.line, group.column) == (group.errors[0].file, 3, 14)


def test_yaml_and_schema_errors_of_several_files_at_once(load_errors):
    errors = load_errors({
        "definitions/a.yml": "kpis:\n  a: [\n",
        "definitions/b.yml": "kpis:\n  b:\n    formula: 1\n    target: high\n",
        "definitions/c.yml": "kpis:\n  c:\n    formula: 1\n",
    })
    assert [(at, e.code) for at, e in errors] == [("definitions/a.yml:3:1", "yaml"),
                                                  ("definitions/b.yml:4:13", "schema")]


def test_a_schema_error_does_not_hide_formula_errors_elsewhere(load_errors):
    errors = load_errors({
        "definitions/a.yml": "kpis:\n  a:\n    formula: 1\n    target: high\n",
        "definitions/b.yml": "kpis:\n  b:\n    formula: a9\n",
    })
    assert [at for at, _ in errors] == ["definitions/a.yml:4:13", "definitions/b.yml:3:14"]


# =========================================================================================
# A bad query on a valid project (QueryError)
# =========================================================================================
QUERY_DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
      plan: customer.plan
    joins:
      customer:
        dataset: customers
        on: customer_id
  customers:
    table: customers
    time: signup_at
    dimensions:
      plan: plan
kpis:
  opened:
    dataset: tickets
    formula: count()
  signups:
    dataset: customers
    formula: count()
  opened_qtd:
    dataset: tickets
    formula: to_date(count(), quarter)
  opened_before:
    dataset: tickets
    formula: previous(count())
  target_rate:
    formula: 0.25
  opened_last_week:
    dataset: tickets
    formula: previous(count(), 1, week)
  days:
    formula: period_days()
"""
TABLES = {
    "tickets": (["ticket_id", "created_at", "channel", "customer_id"],
                [(1, dt.datetime(2025, 1, 5, 9), "email", 10), (2, dt.datetime(2025, 2, 1, 14), "chat", 11)]),
    "customers": (["customer_id", "signup_at", "plan"],
                  [(10, dt.datetime(2024, 12, 1), "pro"), (11, dt.datetime(2025, 1, 20), "free")]),
}


@pytest.fixture
def helpdesk(make_project):
    return make_project(QUERY_DEFINITIONS.lstrip("\n"), TABLES)  # line 1 is "datasets:"


def test_the_query_project_is_valid(helpdesk):
    assert helpdesk.query(["opened"], grain="month").rows == [("2025-01-01", 1), ("2025-02-01", 1)]


QUERY_ERRORS = [
    # (kpis, options, code, message); none of them is in a file
    (["opend"], {}, "unknown-kpi", "unknown KPI 'opend'; did you mean 'opened'?"),
    ([], {}, "no-kpi", "no KPI to compute: name at least one (or use --all)"),
    (["opened"], {"grain": "wek"}, "bad-grain",
     "unknown grain 'wek'; did you mean 'week'? (one of day, week, month, quarter, year, fiscal_quarter, fiscal_year, all)"),
    (["opened"], {"start": "2025-03-01", "end": "2025-01-01"}, "bad-range",
     "--from 2025-03-01 is after --to 2025-01-01"),
    (["opened"], {"start": "2025-13-01"}, "bad-date", "--from '2025-13-01' is not a date; write it as YYYY-MM-DD"),
    (["opened"], {"end": "yesterday"}, "bad-date", "--to 'yesterday' is not a date; write it as YYYY-MM-DD"),
    (["opened_qtd"], {"grain": "week"}, "bad-grain",
     "to_date(..., quarter) needs periods that fit in a quarter; --grain week periods do not"),
    (["opened_before"], {"grain": "all"}, "bad-grain",
     "previous() compares periods; it needs a grain other than 'all'"),
    (["opened"], {"by": ["period"]}, "bad-by", "'period' cannot be a --by dimension: it is the period column"),
    (["target_rate"], {"start": "2025-01-01"}, "no-periods",
     "these KPIs read no dataset, so no period has rows: give --from and --to"),
    (["days"], {"grain": "all", "end": "2025-01-31"}, "no-periods",
     "period_days() at --grain all counts the days from the first to the last with rows, "
     "and these KPIs read no dataset: give --from and --to"),
]


@pytest.mark.parametrize("method", ["query", "compile"])
@pytest.mark.parametrize(("grain", "hint"), [("month", "month, quarter or year"),
                                             ("fiscal_year", "year")])
def test_a_unit_finer_than_the_grain_is_reported_at_its_call(helpdesk, method, grain, hint):
    with pytest.raises(QueryError) as info:
        getattr(helpdesk, method)(["opened_last_week"], grain=grain)
    error = info.value
    assert (error.code, error.message, error.hint) == (
        "bad-grain", f"previous(..., 1, week) cannot be read at --grain {grain}: a week is shorter than a "
        f"{grain.replace('_', ' ')}", f"query with --grain week, or use a unit of {hint}")
    assert position(error, helpdesk.root) == "definitions/main.yml:34:14"


@pytest.mark.parametrize("method", ["query", "compile"])
@pytest.mark.parametrize(("kpis", "options", "code", "message"), QUERY_ERRORS,
                         ids=[f"{k} {o}" for k, o, _, _ in QUERY_ERRORS])
def test_bad_query(helpdesk, method, kpis, options, code, message):
    with pytest.raises(QueryError) as info:
        getattr(helpdesk, method)(kpis, **options)
    error = info.value
    assert (error.code, error.message) == (code, message)
    assert (error.file, error.line, error.column) == (None, None, None)
    check_wrapped(error, positioned=False)


@pytest.mark.parametrize("method", ["query", "compile"])
@pytest.mark.parametrize(("kpis", "by", "where", "message"), [
    (["opened"], ["chanel"], "definitions/main.yml:2:3",
     "unknown dimension 'chanel' on dataset 'tickets'; did you mean 'channel'? "
     "(a --by dimension must be defined on every dataset the query reads)"),
    (["opened", "signups"], ["channel"], "definitions/main.yml:12:3",
     "unknown dimension 'channel' on dataset 'customers' "
     "(a --by dimension must be defined on every dataset the query reads)"),
])
def test_unknown_by_dimension_names_the_dataset(helpdesk, method, kpis, by, where, message):
    with pytest.raises(QueryError) as info:
        getattr(helpdesk, method)(kpis, by=by)
    error = info.value
    assert (error.code, error.message) == ("unknown-dimension", message)
    assert position(error, helpdesk.root) == where


WHERE_ERRORS = [
    ("chanel = 'email'", 1, "unknown-dimension",
     "unknown dimension 'chanel' on dataset 'tickets'; did you mean 'channel'?"),
    ("channel = 'email' and status = 'open'", 23, "unknown-dimension",
     "unknown dimension 'status' on dataset 'tickets'"),
    ("channel = 'email' and count() > 1", 23, "aggregate-not-allowed",
     "aggregate count() is not allowed in --where"),
    ("channel = 'email' and previous(1) > 1", 23, "window-not-allowed",
     "previous() is not allowed in --where; it applies to a whole formula: e.g. previous(count())"),
    ("round(1, digits) = 1", 10, "bad-argument",
     "round() takes its digits as a whole number from -15 to 15, e.g. round(x, 2)"),
    ("tickets.channel = 'x'", 1, "bad-where", "--where reads dimensions only, not 'tickets.channel'"),
    ("channel = ", 9, "syntax", "missing value after an operator"),
]


@pytest.mark.parametrize("method", ["query", "compile"])
@pytest.mark.parametrize(("where", "column", "code", "message"), WHERE_ERRORS, ids=[w[0] for w in WHERE_ERRORS])
def test_bad_where(helpdesk, method, where, column, code, message):
    with pytest.raises(KpiError) as info:
        getattr(helpdesk, method)(["opened"], where=where)
    error = info.value
    check_wrapped(error)
    assert (error.file, error.line, error.column) == ("--where", 1, column)
    assert (error.code, error.message) == (code, message)
    assert error.render().splitlines()[2] == f"1 | {where.strip()}"


@pytest.mark.parametrize(("where", "column", "code", "message"), WHERE_ERRORS[:3], ids=[w[0] for w in WHERE_ERRORS[:3]])
def test_bad_where_is_a_query_error(helpdesk, where, column, code, message):
    with pytest.raises(QueryError):
        helpdesk.query(["opened"], where=where)


def test_a_comment_in_a_folded_formula_is_refused_at_the_hash(load_error):
    at, error = load_error({"definitions/x.yml": """
        datasets:
          t: {table: t, time: at_time}
        kpis:
          share:
            dataset: t
            formula: >
              count(where s = 'a#b')   # the comment would swallow the next line
              / count()
        """})
    # "      count(where s = 'a#b')   " is 31 characters: the '#' of the comment is column 32
    assert at == "definitions/x.yml:7:32"
    assert "folded (>)" in error.message and error.hint.startswith("write the formula as a literal block (|)")
