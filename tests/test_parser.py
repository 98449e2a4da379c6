"""Formula text → syntax tree, and every syntax error at its exact position (SPEC §4).

Expected trees are written with the frozen AST dataclasses; their ``start``/``end``
offsets take no part in equality, so spans are checked on their own below.
Positions in errors are 1-based (line, column), counted by hand.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from lark.exceptions import LarkError

from kpi_engine.formulas import syntax as f
from kpi_engine.errors import FormulaError, KpiError
from kpi_engine.formulas.parser import SYNTAX_EXAMPLES, parse_formula


def parse(text: str) -> f.Node:
    return parse_formula(f.FormulaText.standalone(text, "formula"))


def fail(text: str) -> FormulaError:
    with pytest.raises(KpiError) as info:
        parse(text)
    error = info.value
    assert isinstance(error, FormulaError), type(error)
    assert not isinstance(error, LarkError)
    assert error.code == "syntax"
    assert error.file == "formula"
    return error


# -- tree builders (positions are irrelevant to equality) ---------------------------------
def num(value: str) -> f.Number:
    return f.Number(0, 0, value=Decimal(value))


def text(value: str) -> f.String:
    return f.String(0, 0, value=value)


def ref(name: str, qualifier: str | None = None) -> f.Ref:
    return f.Ref(0, 0, name=name, qualifier=qualifier)


def star(qualifier: str | None = None) -> f.Star:
    return f.Star(0, 0, qualifier=qualifier)


def call(name: str, *args: f.Node, named: tuple[f.NamedArg, ...] = (), where: f.Node | None = None) -> f.Call:
    return f.Call(0, 0, name=name, args=args, named=named, where=where)


def kw(name: str, value: f.Node) -> f.NamedArg:
    return f.NamedArg(0, 0, name=name, value=value)


def op(symbol: str, left: f.Node, right: f.Node) -> f.Binary:
    return f.Binary(0, 0, op=symbol, left=left, right=right)


def not_(operand: f.Node) -> f.Not:
    return f.Not(0, 0, operand=operand)


def neg(operand: f.Node) -> f.Negate:
    return f.Negate(0, 0, operand=operand)


def is_null(operand: f.Node, negated: bool = False) -> f.IsNull:
    return f.IsNull(0, 0, operand=operand, negated=negated)


def in_(operand: f.Node, *items: f.Node, negated: bool = False) -> f.InList:
    return f.InList(0, 0, operand=operand, items=items, negated=negated)


def between(operand: f.Node, low: f.Node, high: f.Node, negated: bool = False) -> f.Between:
    return f.Between(0, 0, operand=operand, low=low, high=high, negated=negated)


def like(operand: f.Node, pattern: str, negated: bool = False) -> f.Like:
    return f.Like(0, 0, operand=operand, pattern=pattern, negated=negated)


TRUE = f.Boolean(0, 0, value=True)
FALSE = f.Boolean(0, 0, value=False)
NULL = f.Null(0, 0)
a, b, c, x, y = ref("a"), ref("b"), ref("c"), ref("x"), ref("y")

# =========================================================================================
# Every construct of the grammar
# =========================================================================================
TREES = [
    # literals
    ("42", num("42")),
    ("3.25", num("3.25")),
    (".5", num("0.5")),
    ("'open'", text("open")),
    ("''", text("")),
    ("'it''s'", text("it's")),
    ("''''", text("'")),
    ("'a # is not a comment'", text("a # is not a comment")),
    ("true", TRUE),
    ("TRUE", TRUE),
    ("False", FALSE),
    ("null", NULL),
    ("Null", NULL),
    ("NULL", NULL),
    # references
    ("status", ref("status")),
    ("_private1", ref("_private1")),
    ("customer.plan", ref("plan", "customer")),
    ("customer . plan", ref("plan", "customer")),
    # calls and aggregates
    ("count()", call("count")),
    ("count(*)", call("count", star())),
    ("count( * )", call("count", star())),
    ("count(customers.*)", call("count", star("customers"))),
    ("count (x)", call("count", x)),  # whitespace is free: a name before '(' is a call
    ("coalesce(a, 0, 'none')", call("coalesce", a, num("0"), text("none"))),
    ("round(avg(x), 2)", call("round", call("avg", x), num("2"))),
    ("count(customers.*, time=churned_at)",
     call("count", star("customers"), named=(kw("time", ref("churned_at")),))),
    ("count(*, at=end)", call("count", star(), named=(kw("at", ref("end")),))),
    ("sum(x, time = closed_at, at = start)",
     call("sum", x, named=(kw("time", ref("closed_at")), kw("at", ref("start"))))),
    ("count(where status = 'open')", call("count", where=op("=", ref("status"), text("open")))),
    ("avg(handle_seconds where status = 'resolved')",
     call("avg", ref("handle_seconds"), where=op("=", ref("status"), text("resolved")))),
    ("count(*, at=end where x)", call("count", star(), named=(kw("at", ref("end")),), where=x)),
    ("percentile(x, 0.9 where y)", call("percentile", x, num("0.9"), where=y)),
    # named arguments only follow a first argument: this is a comparison
    ("count(status = 'open')", call("count", op("=", ref("status"), text("open")))),
    ("count(at = end)", call("count", op("=", ref("at"), ref("end")))),
    ("count(x, status = 'open')", call("count", x, named=(kw("status", text("open")),))),
    # comparisons
    ("a = b", op("=", a, b)),
    ("a != b", op("!=", a, b)),
    ("a <> b", op("!=", a, b)),
    ("a < b", op("<", a, b)),
    ("a <= b", op("<=", a, b)),
    ("a > b", op(">", a, b)),
    ("a >= b", op(">=", a, b)),
    ("a>=1", op(">=", a, num("1"))),
    # is null, in, between, like
    ("x is null", is_null(x)),
    ("x is not null", is_null(x, negated=True)),
    ("x in ('a', 'b')", in_(x, text("a"), text("b"))),
    ("x in (1)", in_(x, num("1"))),
    ("x not in (1, y + 1)", in_(x, num("1"), op("+", y, num("1")), negated=True)),
    ("x between 1 and 10", between(x, num("1"), num("10"))),
    ("x not between a and b + 1", between(x, a, op("+", b, num("1")), negated=True)),
    ("x like 'a%'", like(x, "a%")),
    ("x not like '%b'", like(x, "%b", negated=True)),
    ("x like 'it''s%'", like(x, "it's%")),
    # precedence: or < and < not < comparison < + - < * / < unary minus
    ("a or b and c", op("or", a, op("and", b, c))),
    ("a and b or c", op("or", op("and", a, b), c)),
    ("not a and b", op("and", not_(a), b)),
    ("not a or b", op("or", not_(a), b)),
    ("a or not b", op("or", a, not_(b))),
    ("not a = b", not_(op("=", a, b))),
    ("not not a", a),  # a double not is folded: chains of them never nest
    ("not not not a", not_(a)),
    ("not x in (1)", not_(in_(x, num("1")))),
    ("a = b and c", op("and", op("=", a, b), c)),
    ("a = b + c", op("=", a, op("+", b, c))),
    ("a + b < c * 2", op("<", op("+", a, b), op("*", c, num("2")))),
    ("a + b * c", op("+", a, op("*", b, c))),
    ("a * b + c", op("+", op("*", a, b), c)),
    ("a - b / c", op("-", a, op("/", b, c))),
    ("-a * b", op("*", neg(a), b)),
    ("a * -b", op("*", a, neg(b))),
    ("- - a", a),  # so is a double minus
    ("- - - a", neg(a)),
    ("-a - b", op("-", neg(a), b)),
    ("a - -b", op("-", a, neg(b))),
    ("a + 1 between 0 and 2", between(op("+", a, num("1")), num("0"), num("2"))),
    ("x between 1 and 2 and y", op("and", between(x, num("1"), num("2")), y)),
    ("x is null or y is not null", op("or", is_null(x), is_null(y, negated=True))),
    ("a or b and not c = 1 + 2 * -3",
     op("or", a, op("and", b, not_(op("=", c, op("+", num("1"), op("*", num("2"), neg(num("3"))))))))),
    # left associativity
    ("a - b - c", op("-", op("-", a, b), c)),
    ("a / b / c", op("/", op("/", a, b), c)),
    ("a - b + c", op("+", op("-", a, b), c)),
    ("a / b * c", op("*", op("/", a, b), c)),
    ("a or b or c", op("or", op("or", a, b), c)),
    ("a and b and c", op("and", op("and", a, b), c)),
    # parentheses
    ("(a + b) * c", op("*", op("+", a, b), c)),
    ("a - (b - c)", op("-", a, op("-", b, c))),
    ("a / (b / c)", op("/", a, op("/", b, c))),
    ("((a))", a),
    ("not (a or b)", not_(op("or", a, b))),
    ("-(a + b)", neg(op("+", a, b))),
    ("(a = b) = c", op("=", op("=", a, b), c)),
    # comments, newlines and whitespace
    ("count() # every ticket", call("count")),
    ("count()  # all\n  / 2  # halves", op("/", call("count"), num("2"))),
    ("# the share\ncount(where x) / count()", op("/", call("count", where=x), call("count"))),
    ("a # c\n+ b", op("+", a, b)),
    ("\n  sum(\n    x\n  )\n", call("sum", x)),
    ("a\t+\r\nb", op("+", a, b)),
    # keywords are case-insensitive
    ("a AND b Or NOT c", op("or", op("and", a, b), not_(c))),
    ("count(x WHERE y)", call("count", x, where=y)),
    ("count(Where y)", call("count", where=y)),
    ("x Is Not Null", is_null(x, negated=True)),
    ("x IN (1) and y NOT IN (2)", op("and", in_(x, num("1")), in_(y, num("2"), negated=True))),
    ("x Between 1 AND 2", between(x, num("1"), num("2"))),
    ("x NOT LIKE 'a'", like(x, "a", negated=True)),
    # names that start with a keyword are names
    ("android", ref("android")),
    ("order_id", ref("order_id")),
    ("is_spam", ref("is_spam")),
    ("notes", ref("notes")),
    ("inactive", ref("inactive")),
    ("wherever", ref("wherever")),
    ("null_count + true_value + false_start",
     op("+", op("+", ref("null_count"), ref("true_value")), ref("false_start"))),
    ("between_x - like_count", op("-", ref("between_x"), ref("like_count"))),
    ("not is_spam and android or order_id",
     op("or", op("and", not_(ref("is_spam")), ref("android")), ref("order_id"))),
    ("count(where notes is null)", call("count", where=is_null(ref("notes")))),
    ("count(wherever)", call("count", ref("wherever"))),
]


@pytest.mark.parametrize(("source", "expected"), TREES, ids=[t for t, _ in TREES])
def test_tree(source, expected):
    assert parse(source) == expected


def test_equality_ignores_positions_but_not_the_node_type():
    assert f.Ref(0, 1, name="a") == f.Ref(5, 9, name="a")
    assert f.Ref(0, 1, name="a") != f.String(0, 1, value="a")


# =========================================================================================
# Spans: character offsets into the formula text, end exclusive
# =========================================================================================
SPANS = [
    ("count(where a = 1) / sum(t.x)", lambda n: n, (0, 29)),
    ("count(where a = 1) / sum(t.x)", lambda n: n.left, (0, 18)),  # the call includes its ')'
    ("count(where a = 1) / sum(t.x)", lambda n: n.left.where, (12, 17)),
    ("count(where a = 1) / sum(t.x)", lambda n: n.right, (21, 29)),
    ("count(where a = 1) / sum(t.x)", lambda n: n.right.args[0], (25, 28)),  # both parts of t.x
    ("count(where a = 1) / sum(t.x)", lambda n: n.right.name_span, (21, 24)),
    ("count(*)", lambda n: n.args[0], (6, 7)),
    ("count(ds.*)", lambda n: n.args[0], (6, 10)),
    ("count(ds.*)", lambda n: n.name_span, (0, 5)),
    ("count(x, at = end)", lambda n: n.named[0], (9, 17)),
    ("count(x, at = end)", lambda n: n.named[0].value, (14, 17)),
    ("a is not null", lambda n: n, (0, 13)),
    ("a not in (1, 2)", lambda n: n, (0, 15)),
    ("x between 1 and 20", lambda n: n, (0, 18)),
    ("a like 'x%'", lambda n: n, (0, 11)),
    ("not a", lambda n: n, (0, 5)),
    ("-a", lambda n: n, (0, 2)),
    ("'it''s'", lambda n: n, (0, 7)),
    (".5", lambda n: n, (0, 2)),
    ("(a + b)", lambda n: n, (0, 7)),  # a parenthesised expression spans its parentheses
    ("sum(\n  x\n)", lambda n: n, (0, 10)),
    ("sum(\n  x\n)", lambda n: n.args[0], (7, 8)),
    ("(a + b) * c", lambda n: n, (0, 11)),
    ("c * (a + b)", lambda n: n, (0, 11)),
]


@pytest.mark.parametrize(("source", "pick", "span"), SPANS)
def test_span(source, pick, span):
    picked = pick(parse(source))  # a node, or a (start, end) pair such as Call.name_span
    assert (picked if isinstance(picked, tuple) else (picked.start, picked.end)) == span


# =========================================================================================
# Syntax errors, at the exact line and column
# =========================================================================================
# A formula that ends too early points at its last character.
ERRORS = [
    # -- every label of SYNTAX_EXAMPLES --------------------------------------------------
    ("count(", 1, 6, "missing closing parenthesis"),
    ("sum(x", 1, 5, "missing closing parenthesis"),
    ("avg(x where y = 1", 1, 17, "missing closing parenthesis"),
    ("(a + b", 1, 6, "missing closing parenthesis"),
    ("count(x, y", 1, 10, "missing closing parenthesis"),
    ("1 +", 1, 3, "missing value after an operator"),
    ("a *", 1, 3, "missing value after an operator"),
    ("a -", 1, 3, "missing value after an operator"),
    ("a = ", 1, 3, "missing value after an operator"),
    ("a or", 1, 4, "missing value after an operator"),
    ("not", 1, 3, "missing value after an operator"),
    ("count(x) + )", 1, 12, "missing value after an operator"),
    ("a b", 1, 3, "missing operator between two values"),
    ("1 2", 1, 3, "missing operator between two values"),
    ("count() count()", 1, 9, "missing operator between two values"),
    ("'a' 'b'", 1, 5, "missing operator between two values"),
    ("a < b < c", 1, 7, "comparisons cannot be chained; combine them with 'and'"),
    ("a = b = c", 1, 7, "comparisons cannot be chained; combine them with 'and'"),
    ("count() where x = 1", 1, 9, "'where' goes inside an aggregate's parentheses: count(where x = 1)"),
    ("x where y", 1, 3, "'where' goes inside an aggregate's parentheses: count(where x = 1)"),
    ("()", 1, 2, "empty parentheses"),
    ("a + ()", 1, 6, "empty parentheses"),
    (")", 1, 1, "unexpected closing parenthesis"),
    ("a)", 1, 2, "unexpected closing parenthesis"),
    ("count())", 1, 8, "unexpected closing parenthesis"),
    ("a in 'b'", 1, 6, "a list after 'in' needs parentheses: x in ('a', 'b')"),
    ("a not in 1", 1, 10, "a list after 'in' needs parentheses: x in ('a', 'b')"),
    ("a like b", 1, 8, "'like' takes a string pattern: x like 'abc%'"),
    ("a not like 1", 1, 12, "'like' takes a string pattern: x like 'abc%'"),
    ("a is 1", 1, 6, "'is' must be followed by 'null' or 'not null'"),
    ("a is not 2", 1, 10, "'is' must be followed by 'null' or 'not null'"),
    ("a is", 1, 4, "'is' must be followed by 'null' or 'not null'"),
    ("count(x,)", 1, 9, "missing argument after ','"),
    ("f(a, )", 1, 6, "missing argument after ','"),
    ("f(,)", 1, 3, "missing argument before ','"),
    ("a in (1 2)", 1, 9, "missing ',' or operator between two values"),
    ("count(x y)", 1, 9, "unexpected name 'y': expected an operator, ',' or ')'"),
    # -- strings and characters ------------------------------------------------------------
    ("'abc", 1, 1, "unterminated string: a closing ' is missing"),
    ("a = 'abc", 1, 5, "unterminated string: a closing ' is missing"),
    ("count(where s = 'open)", 1, 17, "unterminated string: a closing ' is missing"),
    ("a = 'x' + 'y", 1, 11, "unterminated string: a closing ' is missing"),
    ('"abc"', 1, 1, "strings use single quotes: 'like this'"),
    ('status = "open"', 1, 10, "strings use single quotes: 'like this'"),
    ("a ; b", 1, 3, "unexpected character ';'"),
    ("a\t;", 1, 3, "unexpected character ';'"),
    ("a $ b", 1, 3, "unexpected character '$'"),
    ("a [1]", 1, 3, "unexpected character '['; use parentheses for grouping"),
    ("a {1}", 1, 3, "unexpected character '{'; use parentheses for grouping"),
    # -- nothing to parse ------------------------------------------------------------------
    ("", 1, 1, "empty formula"),
    ("   ", 1, 1, "empty formula"),
    ("# only a comment", 1, 1, "empty formula"),
    # -- what the parser expected ----------------------------------------------------------
    ("a not b", 1, 7, "unexpected name 'b': expected 'between', 'in' or 'like'"),
    ("a in ()", 1, 7, "unexpected ')': expected a value"),
    ("a in (1,)", 1, 9, "unexpected ')': expected a value"),
    ("count(ds.)", 1, 10, "unexpected ')': expected '*' or a name"),
    ("ds.*", 1, 4, "unexpected '*': expected a name"),
    ("a.b.c", 1, 4, "unexpected '.': expected an operator or the end of the formula"),
    ("a.1", 1, 2, "unexpected number '.1': expected an operator or the end of the formula"),  # '.1' is a number
    ("sum(x) sum(y)", 1, 8, "unexpected name 'sum': expected an operator or the end of the formula"),
    ("sum(x) / (count() + 1", 1, 21, "missing closing parenthesis"),
    ("a between 1", 1, 11, "the formula ends too early: expected 'and'"),
    ("count(*", 1, 7, "the formula ends too early: expected ')', ',' or 'where'"),
    # -- errors on the 2nd and 3rd line ----------------------------------------------------
    ("a\nb", 2, 1, "missing operator between two values"),
    ("count()\n/ count(where x = )", 2, 19, "missing value after an operator"),
    ("a +\n  b *\n  )", 3, 3, "missing value after an operator"),
    ("count(where a = 1)\n  / count(where b = 2)\n  ; 3", 3, 3, "unexpected character ';'"),
    ("count(\n  x\n  where y = 1\n", 3, 13, "missing closing parenthesis"),
    ("sum(x)\n  * count(where s = 'a\n", 2, 21, "unterminated string: a closing ' is missing"),
    ("# share\ncount() where x", 2, 9, "'where' goes inside an aggregate's parentheses: count(where x = 1)"),
]


@pytest.mark.parametrize(("source", "line", "column", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_syntax_error_position(source, line, column, message):
    error = fail(source)
    assert (error.line, error.column) == (line, column)
    assert error.message == message


def _examples():
    for label, examples in SYNTAX_EXAMPLES.items():
        for example in examples:
            yield pytest.param(label, example, id=f"{label[:30]}: {example}")


@pytest.mark.parametrize(("label", "example"), list(_examples()))
def test_every_syntax_example_fails_with_its_own_label(label, example):
    assert fail(example).message == label


def test_every_label_is_covered_by_the_position_table():
    assert set(SYNTAX_EXAMPLES) <= {message for _, _, _, message in ERRORS}


def test_a_value_after_a_value_is_an_operator_outside_parentheses_and_a_comma_inside():
    assert fail("a b").message == "missing operator between two values"
    assert fail("a in (1 2)").message == "missing ',' or operator between two values"


# -- rendering -------------------------------------------------------------------------------
def test_render_shows_the_offending_line_and_a_caret_under_the_token():
    assert fail("count() where x = 1").render() == (
        "formula:1:9: error[syntax]: 'where' goes inside an aggregate's parentheses: count(where x = 1)\n"
        "  |\n"
        "1 | count() where x = 1\n"
        "  |         ^^^^^"
    )


def test_render_on_the_third_line():
    assert fail("a +\n  b *\n  )").render() == (
        "formula:3:3: error[syntax]: missing value after an operator\n"
        "  |\n"
        "3 |   )\n"
        "  |   ^"
    )


def test_render_underlines_an_unterminated_string_to_the_end_of_the_line():
    assert fail("a = 'abc").render() == (
        "formula:1:5: error[syntax]: unterminated string: a closing ' is missing\n"
        "  |\n"
        "1 | a = 'abc\n"
        "  |     ^^^^"
    )


def test_error_span_covers_the_token():
    span = fail("sum(x) sum(y)").span
    assert (span.line, span.column, span.end_line, span.end_column) == (1, 8, 1, 11)


def test_a_label_names_where_the_text_came_from():
    with pytest.raises(FormulaError) as info:
        parse_formula(f.FormulaText.standalone("  ", "--where", label="--where condition"))
    assert info.value.message == "empty --where condition"
    assert str(info.value) == "--where:1:1: empty --where condition"


def test_syntax_errors_hide_lark():
    error = fail("count(")
    assert error.__cause__ is None and error.__suppress_context__


# =========================================================================================
# Bugs found while writing this file, now fixed: kept as regression tests
# =========================================================================================
BUGGY_ERRORS = [
    # (formula, line, column, a phrase the message must contain, what happens today)
    pytest.param("*", 1, 1, "'*'", "BUG: a lone '*' is reported as 'unexpected closing parenthesis'",
                 id="lone star"),
    pytest.param("* 2", 1, 1, "'*'", "BUG: a leading '*' is reported as 'unexpected closing parenthesis'",
                 id="leading star"),
    pytest.param("# one\n# two", 1, 1, "empty formula",
                 "BUG: a formula made of two comment lines is 'unexpected closing parenthesis' at 2:5, "
                 "not 'empty formula'", id="two comment lines"),
    pytest.param("sum(x  # the sum", 1, 5, "missing closing parenthesis",
                 "BUG: a formula that ends too early points into its trailing comment (1:16), "
                 "not at its last token 'x' (1:5)", id="trailing comment"),
    pytest.param("a +\n# what to add", 1, 3, "missing value after an operator",
                 "BUG: a formula that ends too early points at the end of a comment line (2:13), "
                 "not at the '+' (1:3)", id="comment after operator"),
    pytest.param("a = 'it''s", 1, 5, "unterminated string",
                 "BUG: an unterminated string with a '' escape is reported at the second quote of "
                 "the escape (1:9), not at its opening quote (1:5)", id="unterminated with escape"),
    pytest.param("a and or b", 1, 7, "",
                 "BUG: a keyword where a value is expected lexes as a name, so the error is "
                 "\"unexpected name 'b'\" at 1:10, not at 'or' (1:7)", id="keyword as value"),
]


@pytest.mark.parametrize(("source", "line", "column", "phrase", "reason"), BUGGY_ERRORS)
def test_syntax_error_position_bugs(source, line, column, phrase, reason):
    error = fail(source)
    assert (error.line, error.column) == (line, column)
    assert phrase in error.message


def test_missing_comma_in_a_list_says_what_was_expected():
    error = fail("a in (1 2)")
    assert (error.line, error.column) == (1, 9)
    assert "expected a value" not in error.message
    assert "','" in error.message


def test_missing_first_argument():
    error = fail("f(,)")
    assert (error.line, error.column) == (1, 3)
    assert "closing parenthesis" not in error.message


def test_invisible_character_is_named_by_its_code_point():
    error = fail("count()\u00a0+ 1")
    assert (error.line, error.column) == (1, 8)
    assert "U+00A0" in error.message


@pytest.mark.parametrize("source", [
    pytest.param("where", id="where alone"),
    pytest.param("x = where", id="where as a value"),
    pytest.param("where + 1", id="where in arithmetic"),
    pytest.param("x = or", id="or as a value"),
    pytest.param("sum(and)", id="and as an argument"),
    pytest.param("not or", id="or after not"),
])
def test_keywords_are_reserved(source):
    fail(source)
