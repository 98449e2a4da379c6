"""Formula text → syntax tree (``formula``), with errors that point at the token.

The LALR parser is built once per process from ``grammar.lark``. Lark's
exceptions never leave this module: they become a :class:`FormulaError` whose
message comes from :data:`SYNTAX_EXAMPLES` (Lark's ``match_examples`` turns a
parser state into a human label) or, failing that, from the tokens the parser
expected.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from importlib import resources

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import UnexpectedEOF, VisitError

from . import formula as f
from .errors import FormulaError

__all__ = ["SYNTAX_EXAMPLES", "parse_formula"]

#: Parser states → what to tell the user. Each example must fail to parse;
#: the test suite checks that every example still maps to its own label.
SYNTAX_EXAMPLES: dict[str, list[str]] = {
    "missing closing parenthesis": ["count(", "sum(x", "avg(x where y = 1", "(a + b", "count(x, y"],
    "missing value after an operator": ["1 +", "a *", "a and", "a or", "not", "a = ", "a -"],
    "missing operator between two values": ["a b", "1 2", "count() count()", "'a' 'b'", "a (b)"],
    "comparisons cannot be chained; combine them with 'and'": ["a < b < c", "a = b = c"],
    "'where' goes inside an aggregate's parentheses: count(where x = 1)": [
        "count() where x = 1",
        "x where y",
    ],
    "empty parentheses": ["()", "a + ()"],
    "unexpected closing parenthesis": [")", "a)", "count())"],
    "a list after 'in' needs parentheses: x in ('a', 'b')": ["a in 'b'", "a not in 1"],
    "'like' takes a string pattern: x like 'abc%'": ["a like b", "a not like 1"],
    "'is' must be followed by 'null' or 'not null'": ["a is 1", "a is not 2"],
    "missing argument after ','": ["count(x,)", "f(a, )"],
}

_TOKEN_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "RPAR": "')'",
    "LPAR": "'('",
    "_COMMA": "','",
    "_DOT": "'.'",
    "CMP": "a comparison",
    "EQ": "'='",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "AND": "'and'",
    "OR": "'or'",
    "NOT": "'not'",
    "IS": "'is'",
    "IN": "'in'",
    "NULL": "'null'",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "BETWEEN": "'between'",
    "LIKE": "'like'",
    "WHERE": "'where'",
    "$END": "the end of the formula",
}


@functools.cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
    # Spans are taken from the tokens (see _span), which is twice as fast as
    # Lark's propagate_positions.
    return Lark(grammar, parser="lalr", maybe_placeholders=False)


def _pos(item: object) -> tuple[int, int]:
    if isinstance(item, Token):
        return item.start_pos or 0, item.end_pos or 0
    if isinstance(item, f.Node):
        return item.start, item.end
    raise TypeError(item)


def _nodes(children: list[object]) -> list[f.Node]:
    return [c for c in children if isinstance(c, f.Node)]


def _span(children: list[object]) -> tuple[int, int]:
    """From the first to the last token of a rule (keyword and parenthesis tokens are kept)."""
    first, last = children[0], children[-1]
    if isinstance(first, _Where):
        first = first.condition
    if isinstance(last, _Where):
        last = last.condition
    return _pos(first)[0], _pos(last)[1]


class _ToAst(Transformer):
    """Lark tree → formula nodes."""

    def __default__(self, data, children, meta):  # pragma: no cover - grammar and transformer agree
        raise AssertionError(f"unhandled rule {data}")

    # -- leaves -----------------------------------------------------------------
    def number(self, ch):
        return f.Number(*_pos(ch[0]), value=Decimal(str(ch[0])))

    def string(self, ch):
        return f.String(*_pos(ch[0]), value=_unquote(ch[0]))

    def true(self, ch):
        return f.Boolean(*_pos(ch[0]), value=True)

    def false(self, ch):
        return f.Boolean(*_pos(ch[0]), value=False)

    def null(self, ch):
        return f.Null(*_pos(ch[0]))

    def ref(self, ch):
        if len(ch) == 2:
            return f.Ref(*_span(ch), name=str(ch[1]), qualifier=str(ch[0]))
        return f.Ref(*_span(ch), name=str(ch[0]))

    def star(self, ch):
        qualifier = str(ch[0]) if len(ch) == 2 else None
        return f.Star(*_span(ch), qualifier=qualifier)

    def group(self, ch):
        return ch[1]

    # -- operators --------------------------------------------------------------
    def compare(self, ch):
        op = str(ch[1])
        return f.Binary(*_span(ch), op="!=" if op == "<>" else op, left=ch[0], right=ch[2])

    def binary(self, ch):
        return f.Binary(*_span(ch), op=str(ch[1]), left=ch[0], right=ch[2])

    def or_(self, ch):
        return f.Binary(*_span(ch), op="or", left=ch[0], right=ch[2])

    def and_(self, ch):
        return f.Binary(*_span(ch), op="and", left=ch[0], right=ch[2])

    def not_(self, ch):
        return f.Not(*_span(ch), operand=ch[1])

    def negate(self, ch):
        return f.Negate(*_span(ch), operand=ch[1])

    def is_null(self, ch):
        return f.IsNull(*_span(ch), operand=ch[0], negated=False)

    def is_not_null(self, ch):
        return f.IsNull(*_span(ch), operand=ch[0], negated=True)

    def in_(self, ch, negated=False):
        nodes = _nodes(ch)
        return f.InList(*_span(ch), operand=nodes[0], items=tuple(nodes[1:]), negated=negated)

    def not_in(self, ch):
        return self.in_(ch, negated=True)

    def between(self, ch, negated=False):
        a, b, c = _nodes(ch)
        return f.Between(*_span(ch), operand=a, low=b, high=c, negated=negated)

    def not_between(self, ch):
        return self.between(ch, negated=True)

    def like(self, ch, negated=False):
        return f.Like(*_span(ch), operand=ch[0], pattern=_unquote(ch[-1]), negated=negated)

    def not_like(self, ch):
        return self.like(ch, negated=True)

    # -- calls ------------------------------------------------------------------
    def where_clause(self, ch):
        return _Where(ch[1])

    def named_arg(self, ch):
        return f.NamedArg(*_span(ch), name=str(ch[0]), value=ch[2])

    def call(self, ch):
        name = ch[0]
        args: list[f.Node] = []
        named: list[f.NamedArg] = []
        where = None
        for item in ch[2:-1]:
            if isinstance(item, _Where):
                where = item.condition
            elif isinstance(item, f.NamedArg):
                named.append(item)
            else:
                args.append(item)
        return f.Call(
            *_span(ch), name=str(name), args=tuple(args), named=tuple(named), where=where,
            name_end=_pos(name)[1],
        )


class _Where:
    __slots__ = ("condition",)

    def __init__(self, condition: f.Node) -> None:
        self.condition = condition


def _unquote(token: Token) -> str:
    return str(token)[1:-1].replace("''", "'")


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_TOKEN_NAMES.get(t, t.lower()) for t in expected if not t.startswith("__")})
    if len(names) > 6:
        return "an operator or the end of the formula" if "$END" in expected else "a value"
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1] if names else "more"


def parse_formula(text: f.FormulaText) -> f.Node:
    """Parse one formula; raise :class:`FormulaError` at the offending token."""
    source = text.text
    if not source.strip() or source.strip().startswith("#") and "\n" not in source.strip():
        raise text.error((0, max(len(source), 1)), f"empty {text.label}", code="syntax")
    parser = _parser()
    try:
        tree = parser.parse(source)
        return _ToAst().transform(tree)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except VisitError as exc:  # pragma: no cover - a transformer bug, not a user error
        raise exc.orig_exc from exc


def _syntax_error(text: f.FormulaText, exc: UnexpectedInput) -> FormulaError:
    source = text.text
    if isinstance(exc, UnexpectedCharacters):
        ch = source[exc.pos_in_stream] if exc.pos_in_stream < len(source) else ""
        pos = (exc.pos_in_stream, exc.pos_in_stream + 1)
        if ch == "'":
            return text.error((exc.pos_in_stream, len(source.rstrip())), "unterminated string: a closing ' is missing", code="syntax")
        if ch == '"':
            return text.error(pos, "strings use single quotes: 'like this'", code="syntax")
        if ch == "[" or ch == "{":
            return text.error(pos, f"unexpected character '{ch}'; use parentheses for grouping", code="syntax")
        return text.error(pos, f"unexpected character '{ch}'", code="syntax")
    label = None
    try:
        label = exc.match_examples(_parser().parse, SYNTAX_EXAMPLES, use_accepts=True)
    except Exception:  # pragma: no cover - match_examples is best effort
        label = None
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        end = len(source.rstrip()) or 1
        pos = (max(end - 1, 0), end)
        expected = getattr(exc, "expected", None) or getattr(exc, "accepts", None) or set()
        message = label or f"the {text.label} ends too early: expected {_describe_expected(set(expected))}"
        return text.error(pos, message, code="syntax")
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    pos = (token.start_pos or 0, token.end_pos or (token.start_pos or 0) + 1)
    if label is None:
        expected = exc.accepts or exc.expected
        label = f"unexpected {_describe_token(token)}: expected {_describe_expected(set(expected))}"
    return text.error(pos, label, code="syntax")


def _describe_token(token: Token) -> str:
    kind = {"NAME": "name ", "NUMBER": "number ", "STRING": "string "}.get(token.type, "")
    return f"{kind}'{token}'"
