"""Small builders of sqlglot expression trees.

sqlglot's own builder methods (``select("a")``, ``where("x = 1")``) parse
strings, which is slow and would let text reach SQL unparsed; these build
nodes directly. sqlglot does not add parentheses from precedence when it
prints a tree, so :func:`wrap` puts them around compound operands.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlglot import exp

__all__ = [
    "alias",
    "and_",
    "cast",
    "col",
    "func",
    "ident",
    "is_null",
    "lit",
    "not_null",
    "literal_int",
    "or_",
    "select",
    "table",
    "table_ref",
    "wrap",
]

_MAX_BIGINT = 2**63 - 1
_COMPOUND = (exp.Binary, exp.Unary, exp.Between, exp.In, exp.Not, exp.Neg)


_PLAIN = re.compile(r"^[_a-zA-Z][\w]*$")


def ident(name: str) -> exp.Identifier:
    """An identifier, quoted when it is not a plain name (as ``exp.to_identifier`` does, faster)."""
    return exp.Identifier(this=name, quoted=not _PLAIN.match(name))


def col(name: str, table_name: str | None = None) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table_name) if table_name else None)


def lit(value: object) -> exp.Expression:
    """A literal; sqlglot quotes strings, so user text is never pasted into SQL."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, (int, Decimal)):
        text = str(value)
        if isinstance(value, Decimal):
            text = format(value, "f")
        if "." not in text and abs(int(text)) > _MAX_BIGINT:
            text += ".0"  # a decimal: engines read a longer integer as a double, or overflow
        if text.startswith("-"):
            return exp.Neg(this=exp.Literal.number(text[1:]))
        return exp.Literal.number(text)
    if isinstance(value, float):
        return lit(Decimal(repr(value)))
    if isinstance(value, str):
        return exp.Literal.string(value)
    raise TypeError(f"no SQL literal for {value!r}")


def literal_int(node: exp.Expression) -> int:
    """The value of an integer literal built by :func:`lit` (``-2`` is a negated literal)."""
    if isinstance(node, exp.Neg):
        return -literal_int(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        return int(node.this)
    raise ValueError(f"not an integer literal: {node.sql()}")


def func(name: str, *args: exp.Expression) -> exp.Expression:
    """A function call printed as written, in every dialect."""
    return exp.Anonymous(this=name, expressions=list(args))


def alias(expression: exp.Expression, name: str) -> exp.Alias:
    return exp.Alias(this=expression, alias=ident(name))


def cast(expression: exp.Expression, to: str) -> exp.Cast:
    return exp.Cast(this=expression, to=_data_type(to).copy())


@functools.cache
def _data_type(name: str) -> exp.DataType:
    """A type parsed once (``DataType.build`` parses its text every time)."""
    return exp.DataType.build(name)


def wrap(expression: exp.Expression) -> exp.Expression:
    """Parenthesise an operand that is itself an operation."""
    if isinstance(expression, exp.Paren) or not isinstance(expression, _COMPOUND):
        return expression
    return exp.Paren(this=expression)


def and_(*conditions: exp.Expression | None) -> exp.Expression | None:
    items = [c for c in conditions if c is not None]
    if len(items) > 1:  # AND binds tighter than OR: only OR operands need parentheses
        items = [exp.Paren(this=c) if isinstance(c, exp.Or) else c for c in items]
    if not items:
        return None
    result = items[0]
    for item in items[1:]:
        result = exp.And(this=result, expression=item)
    return result


def or_(*conditions: exp.Expression | None) -> exp.Expression | None:
    items = [c for c in conditions if c is not None]
    if not items:
        return None
    result = items[0]
    for item in items[1:]:
        result = exp.Or(this=result, expression=item)
    return result


def binary(kind: type[exp.Binary], left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return kind(this=wrap(left), expression=wrap(right))


def table(name: str) -> exp.Table:
    """A possibly qualified table name (``schema.table``), each part an identifier."""
    parts = name.split(".")
    parts = [p.strip() for p in parts]
    node = exp.Table(this=ident(parts[-1]))
    if len(parts) >= 2:
        node.set("db", ident(parts[-2]))
    if len(parts) >= 3:
        node.set("catalog", ident(parts[-3]))
    return node


def select(
    columns: Sequence[exp.Expression],
    from_: exp.Expression | None = None,
    *,
    joins: Iterable[exp.Join] = (),
    where: exp.Expression | None = None,
    group_by: Sequence[exp.Expression] = (),
    order_by: Sequence[exp.Expression] = (),
    distinct: bool = False,
) -> exp.Select:
    node = exp.Select(expressions=list(columns))
    if from_ is not None:
        node.set("from_" if "from_" in exp.Select.arg_types else "from", exp.From(this=from_))
    joins = list(joins)
    if joins:
        node.set("joins", joins)
    if where is not None:
        node.set("where", exp.Where(this=where))
    if group_by:
        node.set("group", exp.Group(expressions=list(group_by)))
    if order_by:
        node.set("order", exp.Order(expressions=list(order_by)))
    if distinct:
        node.set("distinct", exp.Distinct())
    return node


def table_ref(name: str) -> exp.Table:
    """A CTE or table by its bare name."""
    return exp.Table(this=ident(name))


def subquery(query: exp.Expression, name: str) -> exp.Subquery:
    return exp.Subquery(this=query, alias=exp.TableAlias(this=ident(name)))


def join(
    right: exp.Expression, on: exp.Expression | None, *, kind: str | None = "LEFT"
) -> exp.Join:
    node = exp.Join(this=right)
    if kind == "CROSS":
        node.set("kind", "CROSS")
        return node
    if kind:
        node.set("side", kind)
    node.set("on", on)
    return node


def null_safe_eq(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return exp.NullSafeEQ(this=left, expression=right)


def not_null(value: exp.Expression) -> exp.Expression:
    return exp.Not(this=exp.Is(this=wrap(value), expression=exp.null()))


def is_null(value: exp.Expression) -> exp.Expression:
    return exp.Is(this=wrap(value), expression=exp.null())
