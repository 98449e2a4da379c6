"""Bad definition input gives one clear error: never a hang, a traceback or a wrong message.

Each case is a file an analyst (or a careless tool) might produce, beside the
exact error it must give: file, line and column (1-based, counted by hand in
the text below, in characters), code, message and exit code. The user's files
are never changed by reading them.
"""

from __future__ import annotations

import hashlib
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import kpi_engine
from kpi_engine import DefinitionError, KpiError
from kpi_engine.cli import main
from kpi_engine.compiler.dialects import dialect_for
from kpi_engine.definitions.loader import ALIAS_VALUES_LIMIT, load_yaml_text

KPI_YML = "name: bad-input\n"
# a dataset that needs no database (DuckDB in memory runs its sql), lines 1-4 of a definition file
DATASET = """\
datasets:
  tickets:
    sql: "select 7 as id, timestamp '2025-01-05 10:00' as created_at"
    time: created_at
"""


def with_dataset(kpis: str) -> str:
    """DATASET, then ``kpis`` (indented in the test, dedented here) from line 5 on."""
    return DATASET + textwrap.dedent(kpis).lstrip("\n")


def kpi(root: Path, *args: str):
    return CliRunner().invoke(main, ["--project", str(root), *args])


def fingerprint(root: Path) -> dict[str, str]:
    """The bytes of every file of the project, to check that nothing was written."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def where(error: KpiError, root: Path) -> str:
    """``definitions/x.yml:5:8``: the error's place, relative to the project folder."""
    path = Path(error.file).resolve().relative_to(root.resolve()).as_posix()
    return f"{path}:{error.line}:{error.column}"


def only_error(root: Path) -> KpiError:
    """The one error load() raises, with its position and rendering checked."""
    with pytest.raises(KpiError) as info:
        kpi_engine.load(root)
    errors = info.value.errors
    assert len(errors) == 1, [str(e) for e in errors]
    error = errors[0]
    assert None not in (error.file, error.line, error.column), error
    assert error.render().startswith(f"{error.span}: error[{error.code}]: {error.message}")
    return error


def assert_cli_fails(root: Path, args: list[str], exit_code: int, expected: str) -> None:
    """The command exits with ``exit_code`` and prints ``expected`` once, without a traceback."""
    before = fingerprint(root)
    result = kpi(root, *args)
    assert result.exit_code == exit_code, result.output
    assert result.stderr.count(expected) == 1, result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert fingerprint(root) == before


# =========================================================================================
# 1. YAML aliases: a "billion laughs" file fails at once; a recursive alias is an error
# =========================================================================================
BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""


def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit(write_project):
    root = write_project({"kpi.yml": KPI_YML, "definitions/lol.yml": BILLION_LAUGHS})
    started = time.perf_counter()
    error = only_error(root)
    assert time.perf_counter() - started < 5  # expanding it took 60 s and 3 GB
    # values built (each list counts itself and its items): a = 1 + 9 = 10; b = 1 + 9*10 = 91;
    # c = 1 + 9*91 = 820; d = 1 + 9*820 = 7381. Aliases build 9*10 + 9*91 + 9*820 = 8289 values up
    # to the end of line 4; the first *d of line 5 adds 7381: 15670 > 10,000. "e: &e [" is 7 characters.
    assert isinstance(error, DefinitionError) and error.code == "yaml"
    assert where(error, root) == "definitions/lol.yml:5:8"
    assert error.message == ("invalid YAML: the aliases of this file build more than 10,000 values; "
                             "'*d' (7,381 values) crosses the limit")
    assert_cli_fails(root, ["validate"], 1, "definitions/lol.yml:5:8: error[yaml]: invalid YAML: the aliases")


def test_the_alias_limit_counts_values_before_building_them():
    anchor = "a: &a [" + ",".join(["x"] * 99) + "]\n"  # 1 list + 99 scalars = 100 values
    exactly = anchor + "b: [" + ", ".join(["*a"] * 100) + "]\n"  # 100 aliases build 10,000 values
    assert ALIAS_VALUES_LIMIT == 10_000
    assert len(load_yaml_text(exactly, "ok.yml").data["b"]) == 100
    with pytest.raises(DefinitionError) as info:
        load_yaml_text(anchor + "b: [" + ", ".join(["*a"] * 101) + "]\n", "over.yml")
    # "b: [" is 4 characters and each "*a, " 4 more: the 101st alias starts at column 5 + 100*4 = 405
    assert (info.value.file, info.value.line, info.value.column) == ("over.yml", 2, 405)
    assert "'*a' (100 values) crosses the limit" in info.value.message


@pytest.mark.parametrize(("text", "position"), [
    # "    tags: [" is 11 characters
    ("kpis:\n  volume: &x\n    dataset: tickets\n    formula: count()\n    tags: [*x]\n", "5:12"),
    # a merge of the mapping into itself; "    <<: " is 8 characters
    ("kpis:\n  volume: &x\n    <<: *x\n    formula: count()\n", "3:9"),
])
def test_a_recursive_alias_is_an_error_not_a_recursion_error(write_project, text, position):
    root = write_project({"kpi.yml": KPI_YML, "definitions/loop.yml": text})
    error = only_error(root)
    assert where(error, root) == f"definitions/loop.yml:{position}"
    assert error.message == "invalid YAML: recursive alias '*x': it is inside the value of '&x' it repeats"
    assert error.code == "yaml"


def test_anchors_aliases_and_merged_defaults_keep_working(write_project):
    root = write_project({"kpi.yml": KPI_YML, "definitions/main.yml": with_dataset("""
        kpis:
          volume: &counted
            dataset: tickets
            formula: count()
            format: integer
            tags: [support]
          id_total:
            <<: *counted
            formula: sum(id)
          volume_again: *counted
        """)})
    before = fingerprint(root)
    project = kpi_engine.load(root)
    try:
        ids = project.kpis["id_total"]
        assert (ids.formula, ids.format, ids.tags, ids.dataset) == ("sum(id)", "integer", ["support"], "tickets")
        # one row, id 7: two counts of 1 and a sum of 7
        result = project.query(["volume", "id_total", "volume_again"], grain="all")
        assert result.rows == [(1, 7, 1)]
    finally:
        project.close()
    assert fingerprint(root) == before


def test_a_merged_value_in_error_points_where_it_is_written(write_project):
    root = write_project({"kpi.yml": KPI_YML, "definitions/main.yml": with_dataset("""
        kpis:
          volume: &counted
            dataset: tickets
            formula: count()
            format: integr
          other:
            <<: *counted
        """)})
    with pytest.raises(KpiError) as info:
        kpi_engine.load(root)
    # the bad format of both KPIs is written once, at line 9 ("    format: " is 12 characters)
    assert {where(e, root) for e in info.value.errors} == {"definitions/main.yml:9:13"}
    assert len(info.value.errors) == 2


# =========================================================================================
# 2. Control characters: at their line and column, counted in characters, and named
# =========================================================================================
@pytest.mark.parametrize(("char", "name"), [("\x00", "U+0000 (NUL)"), ("\x1b", "U+001B (ESC)"),
                                            ("\x7f", "U+007F (DEL)")])
def test_a_control_character_in_a_definition_file(write_project, char, name):
    root = write_project({"kpi.yml": KPI_YML})
    # line 3 is "    title: Ação" + the character: "    title: Ação" is 15 characters (18 bytes in UTF-8)
    text = f"kpis:\n  volume:\n    title: Ação{char}\n    formula: count()\n"
    (root / "definitions").mkdir()
    (root / "definitions" / "main.yml").write_bytes(text.encode("utf-8"))
    error = only_error(root)
    assert where(error, root) == "definitions/main.yml:3:16"
    assert error.message == f"invalid YAML: the control character {name} is not allowed in a YAML file"
    assert error.code == "yaml"
    assert_cli_fails(root, ["validate"], 1, "definitions/main.yml:3:16: error[yaml]: invalid YAML: the control")


def test_a_nul_byte_in_kpi_yml(write_project):
    root = write_project({"definitions/main.yml": DATASET})
    # "name: café " is 11 characters (12 bytes): the NUL is at column 12
    (root / "kpi.yml").write_bytes("name: café \x00\n".encode("utf-8"))
    error = only_error(root)
    assert where(error, root) == "kpi.yml:1:12"
    assert error.message == "invalid YAML: the control character U+0000 (NUL) is not allowed in a YAML file"
    assert_cli_fails(root, ["run", "volume"], 1, "kpi.yml:1:12: error[yaml]")


@pytest.mark.parametrize("args", [["validate"], ["run", "volume", "--grain", "all"], ["compile", "volume"]])
def test_a_nul_written_as_an_escape_in_a_formula(write_project, args):
    root = write_project({"kpi.yml": KPI_YML, "definitions/main.yml": with_dataset("""
        kpis:
          volume:
            dataset: tickets
            formula: "count(where id = 'é\\0')"
        """)})
    error = only_error(root)
    # line 8 is `    formula: "count(where id = 'é\0')"`; the escape starts after 33 characters
    assert where(error, root) == "definitions/main.yml:8:34"
    assert error.message == ("invalid YAML: the escape '\\0' writes the control character U+0000 (NUL), "
                             "which a definition cannot hold")
    assert (error.span.end_line, error.span.end_column) == (8, 36)  # the caret covers the two characters
    assert_cli_fails(root, args, 1, "definitions/main.yml:8:34: error[yaml]: invalid YAML: the escape '\\0'")


def test_an_escaped_backslash_is_not_an_escape(write_project):
    root = write_project({"kpi.yml": KPI_YML, "definitions/main.yml": with_dataset("""
        kpis:
          volume:
            dataset: tickets
            formula: count()
            description: "a backslash and a zero: \\\\0, and a tab: \\t"
        """)})
    project = kpi_engine.load(root)
    project.close()
    assert project.kpis["volume"].description == "a backslash and a zero: \\0, and a tab: \t"


# =========================================================================================
# 3. A dataset's sql: a syntax error at the word in the file
# =========================================================================================
SQL_ERRORS = [
    pytest.param("    sql: selec * frm t\n", "3:10",
                 "syntax error in the dataset's sql: 'selec' is not a statement; did you mean 'select'?",
                 id="misspelt-select"),
    pytest.param("    sql: select * frm t\n", "3:19",
                 "syntax error in the dataset's sql: 'frm' is not a keyword; did you mean 'from'?",
                 id="misspelt-from"),
    # a block scalar: the word is on the third line of the sql, line 6 of the file
    pytest.param("    sql: |\n      select id,\n             created_at\n      frm tickets\n", "6:7",
                 "syntax error in the dataset's sql: 'frm' is not a keyword; did you mean 'from'?",
                 id="block-scalar"),
    pytest.param("    sql: >\n      select *\n      from t wher id = 1\n", "5:14",
                 "syntax error in the dataset's sql: 'wher' is not a keyword; did you mean 'where'?",
                 id="folded-scalar"),
    # `    sql: "select * from t where é = ` is 36 characters: the quote is the 37th
    pytest.param("    sql: \"select * from t where é = 'a\"\n", "3:37",
                 "syntax error in the dataset's sql: the quote ' is never closed", id="unclosed-quote"),
    # `    sql: select * from t ` is 25 characters
    pytest.param("    sql: select * from t where\n", "3:26",
                 "syntax error in the dataset's sql: the sql ends too early, after 'where'", id="ends-early"),
    pytest.param("    sql: select (1 from t\n", "3:20",
                 "syntax error in the dataset's sql: expected ')' before 'from'", id="unclosed-paren"),
]


@pytest.mark.parametrize(("sql", "position", "message"), SQL_ERRORS)
def test_a_syntax_error_in_a_dataset_sql_points_at_its_word(write_project, sql, position, message):
    root = write_project({"kpi.yml": KPI_YML, "definitions/data.yml": "datasets:\n  broken:\n" + sql})
    error = only_error(root)
    assert where(error, root) == f"definitions/data.yml:{position}"
    assert error.message == message
    assert error.code == "sql-syntax"


def test_a_sql_syntax_error_through_the_command(write_project):
    root = write_project({"kpi.yml": KPI_YML, "definitions/data.yml": with_dataset("""
        kpis:
          volume: {dataset: tickets, formula: count()}
          broken: {dataset: typo, formula: count()}
        """), "definitions/typo.yml": "datasets:\n  typo:\n    sql: selec * frm t\n"})
    expected = ("definitions/typo.yml:3:10: error[sql-syntax]: syntax error in the dataset's sql: "
                "'selec' is not a statement; did you mean 'select'?")
    assert_cli_fails(root, ["run", "volume"], 1, expected)
    assert_cli_fails(root, ["validate"], 1, expected)


@pytest.mark.parametrize("statement", ["drop table t", "explain select 1", "vacuum"])
def test_a_statement_that_is_not_a_query_keeps_its_message(write_project, caplog, statement):
    root = write_project({"kpi.yml": KPI_YML,
                          "definitions/data.yml": f"datasets:\n  evil:\n    sql: {statement}\n"})
    error = only_error(root)
    assert where(error, root) == "definitions/data.yml:3:10"
    assert error.message == "a dataset's sql must be a SELECT query: running KPIs never writes data"
    assert caplog.records == []  # no "falling back to parsing as a 'Command'" from sqlglot beside it


# =========================================================================================
# 4. An empty table, sql or file
# =========================================================================================
@pytest.mark.parametrize(("field", "value", "good", "message"), [
    ("table", '""', "tickets", "table is empty: name a table or view"),
    ("sql", '"   "', "select 1 as t", "sql is empty: write a SELECT query"),
    ("file", "''", "x.csv", "file is empty: name a CSV, Parquet or JSON file (a glob is allowed)"),
])
def test_an_empty_relation_is_a_definition_error_at_its_value(write_project, field, value, good, message):
    root = write_project({"kpi.yml": KPI_YML,
                          "definitions/data.yml": f"datasets:\n  blank:\n    {field}: {value}\n    time: t\n"})
    error = only_error(root)
    # the value starts after "    table: " (11 characters), "    sql: " (9) or "    file: " (10)
    assert where(error, root) == f"definitions/data.yml:3:{len(field) + 7}"
    assert error.message.startswith(f"{field} is empty")  # the model may say it first, without the advice
    assert_cli_fails(root, ["validate"], 1, f"definitions/data.yml:3:{len(field) + 7}: error[")

    # where the relation is built, the engine says it too, with what to write instead
    fine = write_project({"kpi.yml": KPI_YML,
                          "definitions/data.yml": f"datasets:\n  blank:\n    {field}: {good}\n    time: t\n"})
    project = kpi_engine.load(fine)
    try:
        entry = project.catalog.datasets["blank"]
        entry.model = entry.model.model_copy(update={field: " "})  # as if the model had let it through
        with pytest.raises(DefinitionError) as info:  # a replaced definition is never served from the cache
            project.sources.relation(entry, dialect_for("duckdb"))
        assert info.value.message == message
        assert (info.value.code, where(info.value, fine)) == ("empty", f"definitions/data.yml:3:{len(field) + 7}")
    finally:
        project.close()


@pytest.mark.parametrize("name", ["a..b", "t.", "a.b.c.d"])
def test_a_table_name_with_an_empty_or_extra_part(write_project, name):
    root = write_project({"kpi.yml": KPI_YML,
                          "definitions/data.yml": f"datasets:\n  odd:\n    table: \"{name}\"\n    time: t\n"})
    error = only_error(root)
    assert where(error, root) == "definitions/data.yml:3:12"
    assert error.message == f"invalid table name '{name}': write table, schema.table or catalog.schema.table"


# =========================================================================================
# 5. The duckdb connector pointed at a file that is not a DuckDB database
# =========================================================================================
def duckdb_project(write_project, database: str) -> Path:
    return write_project({
        "kpi.yml": f"name: wrong-file\nsources:\n  default:\n    connector: duckdb\n    database: {database}\n",
        "definitions/data.yml": """
            datasets:
              tickets: {table: tickets, time: created_at}
            kpis:
              volume: {dataset: tickets, formula: count()}
            """,
    })


def test_duckdb_on_a_sqlite_file_says_so(write_project):
    root = duckdb_project(write_project, "data/x.sqlite")
    (root / "data").mkdir()
    with sqlite3.connect(root / "data" / "x.sqlite") as con:
        con.execute("CREATE TABLE tickets (id INTEGER, created_at TEXT)")
    con.close()
    started = time.perf_counter()
    for args in (["run", "volume"], ["validate"]):
        assert_cli_fails(root, args, 3, "error[source]: source 'default': data/x.sqlite is a SQLite database, "
                                        "not a DuckDB one\n  = hint: use connector: sqlite for this file")
    assert time.perf_counter() - started < 10  # no attempt to download DuckDB's sqlite extension


@pytest.mark.parametrize(("content", "message"), [
    (b"id,created_at\n1,2025-01-05\n", "data/x.duckdb is not a DuckDB database"),
    (b"", "data/x.duckdb is an empty file, not a DuckDB database"),
])
def test_duckdb_on_another_file_says_so(write_project, content, message):
    root = duckdb_project(write_project, "data/x.duckdb")
    (root / "data").mkdir()
    (root / "data" / "x.duckdb").write_bytes(content)
    assert_cli_fails(root, ["run", "volume"], 3, f"error[source]: source 'default': {message}\n"
                                                 "  = hint: check 'database:' in kpi.yml (relative to kpi.yml)")


def test_duckdb_never_downloads_an_extension(write_project):
    root = write_project({"kpi.yml": KPI_YML, "definitions/data.yml": DATASET})
    project = kpi_engine.load(root)
    try:
        _, rows = project.connection().execute("SELECT current_setting('autoinstall_known_extensions')")
        assert rows == [(False,)]
    finally:
        project.close()


def test_the_installed_command_prints_no_traceback_for_bad_input(write_project):
    import subprocess
    import sys

    root = write_project({"kpi.yml": KPI_YML, "definitions/lol.yml": BILLION_LAUGHS})
    before = fingerprint(root)
    broken = subprocess.run([sys.executable, "-m", "kpi_engine", "--project", str(root), "validate"],
                            capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert "definitions/lol.yml:5:8: error[yaml]" in broken.stderr and "Traceback" not in broken.stderr
    assert fingerprint(root) == before
