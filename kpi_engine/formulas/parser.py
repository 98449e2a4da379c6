"""Formula text → syntax tree (``formula``), with errors that point at the token.

The LALR parser is built once per process from ``grammar.lark``. Lark's
exceptions never leave this module: they become a :class:`FormulaError` whose
message comes from :data:`SYNTAX_EXAMPLES` (Lark's ``match_examples`` turns a
parser state into a human label) or, failing that, from the tokens the parser
expected.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from decimal import Decimal
from importlib import resources

from lark import Lark, Token, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.visitors import Transformer_NonRecursive
from lark.exceptions import VisitError

from . import syntax as f
from ..errors import FormulaError

__all__ = ["SYNTAX_EXAMPLES", "parse_formula"]

#: Parser states → what to tell the user. Each example must fail to parse;
#: the test suite checks that every example still maps to its own label.
SYNTAX_EXAMPLES: dict[str, list[str]] = {
    "missing closing parenthesis": ["count(", "sum(x", "avg(x where y = 1", "(a + b", "count(x, y"],
    "missing value after an operator": ["1 +", "a *", "a and", "a or", "not", "a = ", "a -"],
    "missing operator between two values": ["a b", "1 2", "count() count()", "'a' 'b'", "a 'b'"],
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
    "missing argument before ','": ["f(,)", "count(, x)"],
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
    # Lark's propagate_positions. The basic lexer keeps keywords reserved
    # everywhere (the contextual one would read `where` as a name where no
    # keyword is expected).
    return Lark(grammar, parser="lalr", lexer="basic", maybe_placeholders=False)


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


#: a chain of more operands than this (a sum of 2,000 terms) is built as a balanced tree, so that no
#: later stage (nor the SQL engine) meets a left-deep tree thousands of levels deep; shorter chains
#: keep the left-to-right order of evaluation exactly
LONG_CHAIN = 32
#: the deepest nesting a formula may have after long chains are balanced; beyond it, an error
MAX_DEPTH = 64
#: integers and decimals engines all read exactly
MAX_INTEGER = 2**63 - 1
MAX_DIGITS = 38


def _chain(terms: list[f.Node], ops: list[str]) -> f.Node:
    """``t0 op1 t1 op2 t2 ...`` as binary nodes: left-deep, or balanced when long and regrouping is exact.

    ``and``/``or`` and ``*`` regroup freely; a long sum regroups with its signs
    (``a - b + c`` = ``a - (b - c)``); a long chain with ``/`` stays left-deep (the depth
    limit then applies to it).
    """
    if len(terms) <= LONG_CHAIN or "/" in ops:
        node = terms[0]
        for op, term in zip(ops, terms[1:]):
            node = f.Binary(node.start, term.end, op=op, left=node, right=term)
        return node
    signed = list(zip(["+", *ops], terms))
    return _balanced(signed)


def _balanced(items: list[tuple[str, f.Node]]) -> f.Node:
    """A balanced tree of ``items[0].term op1 items[1].term ...``; items[0]'s op is the identity."""
    if len(items) == 1:
        return items[0][1]
    middle = len(items) // 2
    left, right = items[:middle], items[middle:]
    op = right[0][0]
    if op == "-":  # a - (b + c - d) for a - b - c + d
        right = [({"+": "-", "-": "+"}[sign], term) for sign, term in right]
    right[0] = ("+" if op in ("+", "-") else op, right[0][1])
    left_node, right_node = _balanced(left), _balanced(right)
    return f.Binary(left_node.start, right_node.end, op=op, left=left_node, right=right_node)


def _check_size(text: f.FormulaText, tree: f.Node) -> None:
    """Nesting within MAX_DEPTH and numbers engines read exactly, found without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise text.error(node, f"this formula nests more than {MAX_DEPTH} levels deep here; "
                             "split it into KPIs that refer to each other", code="too-deep")
        if isinstance(node, f.Number):
            _check_number(text, node)
        stack.extend((child, depth + 1) for child in reversed(list(node.children())))  # leftmost first


def _check_number(text: f.FormulaText, node: f.Number) -> None:
    value = node.value
    digits = len(value.as_tuple().digits)
    if value == value.to_integral_value() and value.as_tuple().exponent >= 0 and abs(value) > MAX_INTEGER:
        raise text.error(node, f"integer {value} does not fit in 64 bits (up to {MAX_INTEGER:,}); write it "
                         f"with a decimal point ({value}.0) to compute with decimals", code="number")
    if digits > MAX_DIGITS:
        raise text.error(node, f"a number has at most {MAX_DIGITS} digits; this one has {digits}", code="number")


class _ToAst(Transformer_NonRecursive):
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
        """A parenthesised expression: its span includes the parentheses."""
        return dataclasses.replace(ch[1], start=_pos(ch[0])[0], end=_pos(ch[2])[1])

    # -- operators --------------------------------------------------------------
    def compare(self, ch):
        op = str(ch[1])
        return f.Binary(*_span(ch), op="!=" if op == "<>" else op, left=ch[0], right=ch[2])

    def binary(self, ch):
        return _chain(ch[0::2], [str(op) for op in ch[1::2]])

    def or_(self, ch):
        return _chain(ch[0::2], ["or"] * (len(ch) // 2))

    def and_(self, ch):
        return _chain(ch[0::2], ["and"] * (len(ch) // 2))

    def not_(self, ch):
        if isinstance(ch[1], f.Not):  # not not x is x (also for null): deep chains of them stay flat
            return ch[1].operand
        return f.Not(*_span(ch), operand=ch[1])

    def negate(self, ch):
        if isinstance(ch[1], f.Negate):  # - - x is x
            return ch[1].operand
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
        closers = [_TOKEN_NAMES[t] for t in ("_COMMA", "RPAR") if t in expected]
        if closers:  # inside a call or a list: the useful part is how it goes on
            return "an operator, " + " or ".join(closers)
        return "an operator or the end of the formula" if "$END" in expected else "a value"
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1] if names else "more"


def parse_formula(text: f.FormulaText) -> f.Node:
    """Parse one formula; raise :class:`FormulaError` at the offending token."""
    source = text.text
    if not _COMMENT.sub("", source).strip():
        raise text.error((0, max(len(source), 1)), f"empty {text.label}", code="syntax")
    if text.folded:
        comment = _comment_start(source)
        if comment is not None:
            raise text.error((comment, comment + 1), "a comment in a folded (>) block swallows the lines after "
                             "it, which YAML joins onto the comment's line", hint="write the formula as a literal "
                             "block (|) to keep comments, or remove the comment", code="syntax")
    try:
        tree = _ToAst().transform(_parser().parse(source))
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except VisitError as exc:  # pragma: no cover - a transformer bug, not a user error
        raise exc.orig_exc from exc
    _check_size(text, tree)
    return tree


_COMMENT = re.compile(r"#[^\n]*")


#: Labels that describe where the parser is, whatever token comes next; the
#: others describe the unexpected token too ("unexpected closing parenthesis").
STATE_LABELS = frozenset({
    "missing value after an operator",
    "'is' must be followed by 'null' or 'not null'",
    "a list after 'in' needs parentheses: x in ('a', 'b')",
    "'like' takes a string pattern: x like 'abc%'",
    "missing argument after ','",
})


@functools.cache
def _labels() -> tuple[dict[tuple[int, str], str], dict[int, str]]:
    """(parser state, token type) → label, and parser state → label for :data:`STATE_LABELS`.

    Lark's own ``match_examples`` matches on the state alone, which would give
    "unexpected closing parenthesis" to a ``*`` failing where a ``)`` did.
    """
    exact: dict[tuple[int, str], str] = {}
    by_state: dict[int, str] = {}
    for label, examples in SYNTAX_EXAMPLES.items():
        for example in examples:
            try:
                _parser().parse(example)
            except UnexpectedToken as exc:
                exact.setdefault((_state(exc), exc.token.type), label)
                if label in STATE_LABELS:
                    by_state.setdefault(_state(exc), label)
            except UnexpectedInput:
                continue
    return exact, by_state


def _state(exc: UnexpectedToken) -> int:
    """The LALR state the parser was in (Lark gives a state object; its position is the number)."""
    state = exc.state
    return getattr(state, "position", state)


def _depth(source: str, offset: int) -> int:
    """How many parentheses are open before ``offset``."""
    depth = 0
    try:
        for token in _parser().lex(source[:offset]):
            depth += {"LPAR": 1, "RPAR": -1}.get(token.type, 0)
    except UnexpectedInput:
        pass
    return depth


def _last_token_end(source: str) -> int:
    """Where the formula's last token ends (a trailing comment is not part of it)."""
    end = 0
    try:
        for token in _parser().lex(source):
            end = token.end_pos or end
    except UnexpectedInput:
        pass
    return end or len(source.rstrip())


def _comment_start(source: str) -> int | None:
    """The offset of the first '#' that starts a comment (not inside a string)."""
    in_string = False
    for i, ch in enumerate(source):
        if ch == "'":
            in_string = not in_string  # '' inside a string toggles twice: still inside
        elif ch == "#" and not in_string:
            return i
    return None


def _open_string(source: str) -> int | None:
    """The offset of the quote that opens an unterminated string, if any."""
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "#":
            newline = source.find("\n", i)
            i = n if newline < 0 else newline
        elif ch == "'":
            j = i + 1
            while j < n:
                if source[j] == "'":
                    if j + 1 < n and source[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                return i
            i = j + 1
        else:
            i += 1
    return None


def _syntax_error(text: f.FormulaText, exc: UnexpectedInput) -> FormulaError:
    source = text.text
    if isinstance(exc, UnexpectedCharacters):
        at = exc.pos_in_stream
        ch = source[at] if at < len(source) else ""
        opening = _open_string(source)
        if ch == "'" or (opening is not None and opening <= at):
            start = opening if opening is not None else at
            line_end = source.find("\n", start)
            end = len(source.rstrip()) if line_end < 0 else line_end
            return text.error((start, max(end, start + 1)), "unterminated string: a closing ' is missing",
                              code="syntax")
        pos = (at, at + 1)
        if ch == '"':
            return text.error(pos, "strings use single quotes: 'like this'", code="syntax")
        if ch in "[{":
            return text.error(pos, f"unexpected character '{ch}'; use parentheses for grouping", code="syntax")
        if not ch.isprintable() or (ch.isspace() and ch not in " \t\r\n\f"):
            name = unicodedata.name(ch, "unnamed character").lower()
            return text.error(pos, f"unexpected character U+{ord(ch):04X} ({name})", code="syntax")
        return text.error(pos, f"unexpected character '{ch}'", code="syntax")
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    exact, by_state = _labels()
    label = exact.get((_state(exc), token.type)) or by_state.get(_state(exc))
    expected = set(exc.accepts or exc.expected)
    if token.type == "$END":
        end = _last_token_end(source)
        message = label or f"the {text.label} ends too early: expected {_describe_expected(expected)}"
        return text.error((max(end - 1, 0), max(end, 1)), message, code="syntax")
    pos = (token.start_pos or 0, token.end_pos or (token.start_pos or 0) + 1)
    if label == "missing operator between two values" and _depth(source, pos[0]) > 0:
        label = "missing ',' or operator between two values"  # a list or arguments: both are plausible
    if label is None:
        label = f"unexpected {_describe_token(token)}: expected {_describe_expected(expected)}"
    return text.error(pos, label, code="syntax")


def _describe_token(token: Token) -> str:
    kind = {"NAME": "name ", "NUMBER": "number ", "STRING": "string "}.get(token.type, "")
    return f"{kind}'{token}'"
