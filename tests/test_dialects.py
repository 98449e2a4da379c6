"""Per-dialect SQL of formula fragments, in the style of sqlglot's dialect tests.

Each table row is one formula and the SQL every dialect must get; the SQL was
written from each engine's documentation (e.g. Spark's WEEKDAY is 0 = Monday,
BigQuery's DAYOFWEEK is 1 = Sunday, SQLite has no YEAR()). The second half
runs every row function on DuckDB and SQLite and compares with values worked
out by hand.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import duckdb
import pytest
from sqlglot import exp

from kpi_engine.compiler.dialects import dialect_for
from kpi_engine.compiler.translate import Translator
from kpi_engine.sources.base import normalise_value
from kpi_engine.errors import QueryError
from kpi_engine.formulas.syntax import FormulaText
from kpi_engine.formulas.functions import BUILTIN_FUNCTIONS
from kpi_engine.formulas.parser import parse_formula

DIALECTS = ("duckdb", "sqlite", "postgres", "snowflake", "bigquery", "spark", "trino")


def fragment(text: str, dialect: str) -> str:
    target = dialect_for(dialect)
    translate = Translator(target, BUILTIN_FUNCTIONS, column=lambda ref: exp.column(ref.name))
    return target.generate(translate(parse_formula(FormulaText.standalone(text, "test"))), pretty=False)


def validate_all(text: str, write: dict[str, str]) -> None:
    assert set(write) == set(DIALECTS), "every dialect is spelled out"
    for dialect, expected in write.items():
        assert fragment(text, dialect) == expected, dialect


def test_division_is_true_division_and_null_on_zero():
    validate_all("a / b", {
        "duckdb": "CAST(a AS DOUBLE) / NULLIF(b, 0)",
        "sqlite": "CAST(a AS REAL) / NULLIF(b, 0)",
        "postgres": "CAST(a AS DOUBLE PRECISION) / NULLIF(b, 0)",
        "snowflake": "CAST(a AS DOUBLE) / NULLIF(b, 0)",
        "bigquery": "CAST(a AS FLOAT64) / NULLIF(b, 0)",
        "spark": "CAST(a AS DOUBLE) / NULLIF(b, 0)",
        "trino": "CAST(a AS DOUBLE) / NULLIF(b, 0)",
    })


def test_literal_arithmetic_is_folded_exactly():
    # 0.06 + 0.01 as binary floats is 0.06999999999999999 on some engines
    validate_all("x between 0.06 + 0.01 and 1 - 0.5", {d: "x BETWEEN 0.07 AND 0.5" for d in DIALECTS})
    validate_all("1 / 0", {d: "NULL" for d in DIALECTS})


def test_hour():
    validate_all("hour(ts)", {
        "duckdb": "HOUR(ts)",
        "sqlite": "CAST(STRFTIME('%H', ts) AS INTEGER)",
        "postgres": "EXTRACT(HOUR FROM ts)",
        "snowflake": "DATE_PART(HOUR, ts)",
        "bigquery": "EXTRACT(HOUR FROM ts)",
        "spark": "HOUR(ts)",
        "trino": "EXTRACT(HOUR FROM ts)",
    })


def test_iso_day_of_week():
    validate_all("day_of_week(ts)", {
        "duckdb": "ISODOW(ts)",
        "sqlite": "((CAST(STRFTIME('%w', DATE(ts)) AS INTEGER) + 6) % 7) + 1",
        "postgres": "EXTRACT(ISODOW FROM ts)",
        "snowflake": "DAYOFWEEKISO(ts)",
        "bigquery": "MOD(EXTRACT(DAYOFWEEK FROM ts) + 5, 7) + 1",
        "spark": "WEEKDAY(ts) + 1",
        "trino": "DAY_OF_WEEK(ts)",
    })


def test_year_and_date():
    validate_all("year(ts)", {
        "duckdb": "YEAR(ts)",
        "sqlite": "CAST(STRFTIME('%Y', ts) AS INTEGER)",
        "postgres": "EXTRACT(YEAR FROM ts)",
        "snowflake": "DATE_PART(YEAR, ts)",
        "bigquery": "EXTRACT(YEAR FROM ts)",
        "spark": "YEAR(ts)",
        "trino": "EXTRACT(YEAR FROM ts)",
    })
    validate_all("date(ts)", {**{d: "CAST(ts AS DATE)" for d in DIALECTS}, "sqlite": "DATE(ts)"})


def test_time_differences_are_fractional():
    validate_all("hours_between(a, b)", {
        "duckdb": "CAST(EPOCH(b) - EPOCH(a) AS DOUBLE) / 3600",
        "sqlite": "CAST(ROUND((JULIANDAY(b) - JULIANDAY(a)) * 86400000.0) AS REAL) / 3600000.0",
        "postgres": "CAST(EXTRACT(EPOCH FROM b) - EXTRACT(EPOCH FROM a) AS DOUBLE PRECISION) / 3600",
        "snowflake": "CAST(DATEDIFF(MILLISECOND, a, b) AS DOUBLE) / 3600000",
        "bigquery": "CAST(UNIX_MICROS(CAST(b AS TIMESTAMP)) - UNIX_MICROS(CAST(a AS TIMESTAMP)) AS FLOAT64) / 3600000000",
        "spark": "CAST((UNIX_MICROS(CAST(b AS TIMESTAMP)) / 1000000.0) - (UNIX_MICROS(CAST(a AS TIMESTAMP)) / 1000000.0)"
                 " AS DOUBLE) / 3600",
        "trino": "CAST(TO_UNIXTIME(b) - TO_UNIXTIME(a) AS DOUBLE) / 3600",
    })


def test_least_is_null_when_an_argument_is_null():
    expected = "CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE LEAST(a, b) END"
    validate_all("least(a, b)", {**{d: expected for d in DIALECTS},
                                 "sqlite": "CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE MIN(a, b) END"})


def test_like_is_case_sensitive():
    # SQLite's LIKE ignores case, so it becomes GLOB with the wildcards translated
    validate_all("a like 'x_%'", {**{d: "a LIKE 'x_%'" for d in DIALECTS}, "sqlite": "a GLOB 'x?*'"})
    assert fragment("a like '*[%'", "sqlite") == "a GLOB '[*][[]*'"


def test_logic_keeps_its_grouping():
    validate_all("not (a or b) and c", {d: "NOT (a OR b) AND c" for d in DIALECTS})
    validate_all("x not in (1, 2)", {d: "NOT (x IN (1, 2))" for d in DIALECTS})
    validate_all("(a + b) * c - -d", {d: "((a + b) * c) - (-d)" for d in DIALECTS})  # never "--"


@pytest.mark.parametrize("grain, index, first_day", [
    ("day", {
        "duckdb": "CAST(ts AS DATE) - CAST('1900-01-01' AS DATE)",
        "sqlite": "CAST(JULIANDAY(DATE(ts)) - 2415020.5 AS INTEGER)",
        "postgres": "CAST(ts AS DATE) - CAST('1900-01-01' AS DATE)",
        "snowflake": "DATEDIFF(DAY, CAST('1900-01-01' AS DATE), CAST(ts AS DATE))",
        "bigquery": "DATE_DIFF(CAST(ts AS DATE), CAST('1900-01-01' AS DATE), DAY)",
        "spark": "DATEDIFF(CAST(ts AS DATE), CAST('1900-01-01' AS DATE))",
        "trino": "DATE_DIFF('day', CAST('1900-01-01' AS DATE), CAST(ts AS DATE))",
    }, {
        "duckdb": "CAST('1900-01-01' AS DATE) + CAST(p AS INT)",
        "sqlite": "DATE('1900-01-01', '+' || CAST(p AS TEXT) || ' days')",
        "postgres": "CAST('1900-01-01' AS DATE) + CAST(p AS INT)",
        "snowflake": "DATEADD(DAY, p, CAST('1900-01-01' AS DATE))",
        "bigquery": "DATE_ADD(CAST('1900-01-01' AS DATE), INTERVAL p DAY)",
        "spark": "DATE_ADD(CAST('1900-01-01' AS DATE), CAST(p AS INT))",
        "trino": "DATE_ADD('day', p, CAST('1900-01-01' AS DATE))",
    }),
    ("month", {
        "duckdb": "YEAR(ts) * 12 + MONTH(ts) - 1",
        "sqlite": "CAST(STRFTIME('%Y', ts) AS INTEGER) * 12 + CAST(STRFTIME('%m', ts) AS INTEGER) - 1",
        "postgres": "EXTRACT(YEAR FROM ts) * 12 + EXTRACT(MONTH FROM ts) - 1",
        "snowflake": "DATE_PART(YEAR, ts) * 12 + DATE_PART(MONTH, ts) - 1",
        "bigquery": "EXTRACT(YEAR FROM ts) * 12 + EXTRACT(MONTH FROM ts) - 1",
        "spark": "YEAR(ts) * 12 + MONTH(ts) - 1",
        "trino": "EXTRACT(YEAR FROM ts) * 12 + EXTRACT(MONTH FROM ts) - 1",
    }, {
        "duckdb": "CAST(CAST('1900-01-01' AS DATE) + TO_MONTHS(CAST(p - 22800 AS INT)) AS DATE)",
        "sqlite": "PRINTF('%04d-%02d-01', p / 12, (p % 12) + 1)",
        "postgres": "MAKE_DATE(CAST(DIV(p, 12) AS INT), CAST((p % 12) + 1 AS INT), 1)",
        "snowflake": "DATEADD(MONTH, p - 22800, CAST('1900-01-01' AS DATE))",
        "bigquery": "DATE_ADD(CAST('1900-01-01' AS DATE), INTERVAL (p - 22800) MONTH)",
        "spark": "MAKE_DATE(CAST(p DIV 12 AS INT), CAST((p % 12) + 1 AS INT), 1)",
        "trino": "DATE_ADD('month', p - 22800, CAST('1900-01-01' AS DATE))",
    }),
])
def test_period_index_and_first_day(grain, index, first_day):
    ts, p = exp.column("ts"), exp.column("p")
    for dialect in DIALECTS:
        target = dialect_for(dialect)
        assert target.generate(target.period_index(ts, grain), pretty=False) == index[dialect], dialect
        assert target.generate(target.period_date(p, grain), pretty=False) == first_day[dialect], dialect


def test_unknown_dialect_suggests_the_closest():
    with pytest.raises(QueryError, match="did you mean 'snowflake'"):
        dialect_for("snowflak")


# ----------------------------------------------------------------- execution

# 2025-01-05 is a Sunday; 2024-02-29 a Thursday (leap day)
CASES = [
    ("year(ts)", dt.datetime(2024, 2, 29, 13, 45, 10), 2024),
    ("month(ts)", dt.datetime(2024, 2, 29, 13, 45, 10), 2),
    ("hour(ts)", dt.datetime(2024, 2, 29, 13, 45, 10), 13),
    ("day_of_week(ts)", dt.datetime(2025, 1, 5, 10), 7),
    ("day_of_week(ts)", dt.datetime(2024, 2, 29), 4),
    ("date(ts)", dt.datetime(2024, 2, 29, 23, 59, 59), "2024-02-29"),
    ("seconds_between(ts, ts2)", (dt.datetime(2025, 1, 1, 10), dt.datetime(2025, 1, 1, 10, 2, 30)), 150.0),
    ("minutes_between(ts, ts2)", (dt.datetime(2025, 1, 1, 10), dt.datetime(2025, 1, 1, 10, 2, 30)), 2.5),
    ("hours_between(ts, ts2)", (dt.datetime(2025, 1, 1, 10), dt.datetime(2025, 1, 1, 8, 30)), -1.5),
    ("days_between(ts, ts2)", (dt.datetime(2025, 1, 1, 12), dt.datetime(2025, 1, 3)), 1.5),
    ("coalesce(null, 2, 3)", None, 2),
    ("nullif(5, 5)", None, None),
    ("if(1 > 2, 'a', 'b')", None, "b"),
    ("abs(-3)", None, 3),
    ("round(2.345, 2)", None, 2.35),
    ("round(2.5)", None, 3),
    ("floor(-1.5)", None, -2),
    ("ceil(1.2)", None, 2),
    ("least(3, 1, 2)", None, 1),
    ("greatest(3, null)", None, None),
    ("lower('AbC')", None, "abc"),
    ("upper('AbC')", None, "ABC"),
    ("length('héllo')", None, 5),
    ("7 / 2", None, 3.5),
]


def _run(engine: str, text: str, value) -> object:
    ts, ts2 = value if isinstance(value, tuple) else (value, None)
    target = dialect_for(engine)
    translate = Translator(target, BUILTIN_FUNCTIONS, column=lambda ref: exp.column(ref.name))
    expression = target.generate(translate(parse_formula(FormulaText.standalone(text, "test"))), pretty=False)
    if engine == "duckdb":
        con = duckdb.connect()
        con.execute("CREATE TABLE t (ts TIMESTAMP, ts2 TIMESTAMP)")
        con.execute("INSERT INTO t VALUES (?, ?)", [ts, ts2])
    else:
        con = sqlite3.connect(":memory:")
        con.execute("CREATE TABLE t (ts, ts2)")
        con.execute("INSERT INTO t VALUES (?, ?)", [v.isoformat(sep=" ") if v else None for v in (ts, ts2)])
    out = con.execute(f"SELECT {expression} FROM t").fetchone()[0]
    con.close()
    return normalise_value(out)


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
@pytest.mark.parametrize("text, value, expected", CASES)
def test_row_functions_give_the_same_values(engine, text, value, expected):
    result = _run(engine, text, value)
    if isinstance(expected, float) or isinstance(result, float):
        assert result == pytest.approx(expected, abs=1e-9)
    else:
        assert result == expected


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
@pytest.mark.parametrize("grain, day, first", [
    ("day", dt.date(2024, 2, 29), "2024-02-29"),
    ("week", dt.date(2025, 1, 1), "2024-12-30"),   # a Wednesday; its ISO week starts on Monday 2024-12-30
    ("week", dt.date(2024, 12, 29), "2024-12-23"),  # a Sunday belongs to the week of the Monday before
    ("month", dt.date(2024, 2, 29), "2024-02-01"),
    ("quarter", dt.date(2024, 8, 15), "2024-07-01"),
    ("year", dt.date(2024, 8, 15), "2024-01-01"),
])
def test_period_round_trip_on_engines(engine, grain, day, first):
    target = dialect_for(engine)
    moment = exp.column("ts")
    index_sql = target.generate(target.period_index(moment, grain), pretty=False)
    date_sql = target.generate(target.period_date(exp.column("p"), grain), pretty=False)
    stamp = dt.datetime.combine(day, dt.time(17, 30))
    if engine == "duckdb":
        con = duckdb.connect()
        out = con.execute(f"SELECT {date_sql} FROM (SELECT {index_sql} AS p FROM (SELECT ?::TIMESTAMP AS ts))",
                          [stamp]).fetchone()[0]
        out = out.isoformat() if isinstance(out, dt.date) else out
    else:
        con = sqlite3.connect(":memory:")
        out = con.execute(f"SELECT {date_sql} FROM (SELECT {index_sql} AS p FROM (SELECT ? AS ts))",
                          [stamp.isoformat(sep=" ")]).fetchone()[0]
    con.close()
    assert out == first
