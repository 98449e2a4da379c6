"""The typed syntax tree of a formula.

Nodes are frozen dataclasses carrying ``start``/``end`` character offsets into
the formula text; :class:`FormulaText` turns them into file:line:col spans, so
an error about a node always points at the token in the YAML file. Nothing
here knows about datasets or SQL: meaning is given in ``binder``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from decimal import Decimal

from typing import TYPE_CHECKING, Any

from ..definitions.loader import TextMap
from ..errors import FormulaError, KpiError, SourceText, Span

if TYPE_CHECKING:
    from ..definitions.catalog import _Entry

__all__ = [
    "Between",
    "Binary",
    "Boolean",
    "Call",
    "FormulaText",
    "InList",
    "IsNull",
    "Like",
    "NamedArg",
    "Negate",
    "Node",
    "Not",
    "Null",
    "Number",
    "Ref",
    "Star",
    "String",
    "walk",
]


@dataclass(frozen=True, slots=True)
class FormulaText:
    """A formula's text and where it came from, for positions in errors."""

    text: str
    where: TextMap
    label: str = "formula"
    #: the error class: FormulaError in definitions, QueryError in a query's --where
    error_type: type[KpiError] = FormulaError

    @classmethod
    def of(cls, entry: _Entry, *sub: Any, label: str = "formula") -> FormulaText:
        """A string field of a definition (``entry.value(*sub)``) whose offsets map into its file."""
        value = entry.value(*sub)
        return cls(value, entry.document.text_map(entry.path + sub, value), label)

    @classmethod
    def standalone(cls, text: str, name: str, label: str = "formula",
                   error_type: type[KpiError] = FormulaError) -> FormulaText:
        """A formula that is its own source, such as ``--where`` on the command line."""
        return cls(text, TextMap.identity(SourceText(name, text)), label, error_type)

    @property
    def folded(self) -> bool:
        """Written as a folded YAML block (>), whose line breaks became spaces."""
        scalar = getattr(self.where, "scalar", None)
        return scalar is not None and scalar.style == ">"

    def span(self, node: Node | tuple[int, int]) -> Span:
        start, end = (node.start, node.end) if isinstance(node, Node) else node
        return self.where.span(start, end)

    def error(
        self, node: Node | tuple[int, int], message: str, *, hint: str | None = None, code: str = "formula"
    ) -> KpiError:
        return self.error_type(message, span=self.span(node), hint=hint, code=code)


@dataclass(frozen=True, slots=True)
class Node:
    start: int = field(compare=False, repr=False)
    end: int = field(compare=False, repr=False)

    def children(self) -> Iterator[Node]:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item


@dataclass(frozen=True, slots=True)
class Number(Node):
    value: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class String(Node):
    value: str = ""


@dataclass(frozen=True, slots=True)
class Boolean(Node):
    value: bool = False


@dataclass(frozen=True, slots=True)
class Null(Node):
    pass


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """``name`` or ``qualifier.name``: a column, a joined column or a KPI."""

    name: str = ""
    qualifier: str | None = None

    @property
    def dotted(self) -> str:
        return f"{self.qualifier}.{self.name}" if self.qualifier else self.name


@dataclass(frozen=True, slots=True)
class Star(Node):
    """``*`` or ``dataset.*`` as an aggregate's argument."""

    qualifier: str | None = None


@dataclass(frozen=True, slots=True)
class NamedArg(Node):
    name: str = ""
    value: Node | None = None


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str = ""
    args: tuple[Node, ...] = ()
    named: tuple[NamedArg, ...] = ()
    where: Node | None = None
    name_end: int = field(default=0, compare=False, repr=False)

    @property
    def name_span(self) -> tuple[int, int]:
        return (self.start, self.name_end)


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """Arithmetic (+ - * /), comparison (= != < <= > >=) or logic (and, or)."""

    op: str = ""
    left: Node | None = None
    right: Node | None = None


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node | None = None


@dataclass(frozen=True, slots=True)
class Negate(Node):
    operand: Node | None = None


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    operand: Node | None = None
    negated: bool = False


@dataclass(frozen=True, slots=True)
class InList(Node):
    operand: Node | None = None
    items: tuple[Node, ...] = ()
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Between(Node):
    operand: Node | None = None
    low: Node | None = None
    high: Node | None = None
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Like(Node):
    operand: Node | None = None
    pattern: str = ""
    negated: bool = False


def walk(node: Node) -> Iterator[Node]:
    """Every node of a tree, parents before children."""
    yield node
    for child in node.children():
        yield from walk(child)
