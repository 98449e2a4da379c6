"""Formula trees → sqlglot expressions.

The same translator serves row expressions (leaves are columns) and metrics
(leaves are atom values): the caller says what a :class:`~kpi_engine.formula.Ref`
and an :class:`~kpi_engine.binder.AtomRef` become. Arithmetic on literals is
folded here with decimals, so ``0.06 + 0.01`` reaches the engine as ``0.07``
and never as a float sum (some engines add literals as binary floats).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, DivisionByZero, InvalidOperation

from sqlglot import exp

from ..formulas import syntax as f
from ..formulas.binder import Atom, AtomRef, PeriodDays
from ..formulas.functions import FunctionSpec
from .dialects import SqlDialect
from .sql import binary, lit, wrap

__all__ = ["Translator", "fold_constant"]

_COMPARE: dict[str, type[exp.Binary]] = {
    "=": exp.EQ,
    "!=": exp.NEQ,
    "<": exp.LT,
    "<=": exp.LTE,
    ">": exp.GT,
    ">=": exp.GTE,
}
_ARITHMETIC: dict[str, type[exp.Binary]] = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}


def fold_constant(node: f.Node) -> Decimal | None:
    """The value of a numeric expression made only of literals, else None.

    ``None`` also stands for a null result (division by zero), which the
    caller renders as NULL through :data:`_NULL_RESULT`.
    """
    if isinstance(node, f.Number):
        return node.value
    if isinstance(node, f.Negate):
        inner = fold_constant(node.operand)
        return -inner if inner is not None else None
    if isinstance(node, f.Binary) and node.op in ("+", "-", "*", "/"):
        left, right = fold_constant(node.left), fold_constant(node.right)
        if left is None or right is None:
            return None
        try:
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "*":
                return left * right
            return left / right if right != 0 else None
        except (DivisionByZero, InvalidOperation):
            return None
    return None


def _is_constant(node: f.Node) -> bool:
    if isinstance(node, f.Number):
        return True
    if isinstance(node, f.Negate):
        return _is_constant(node.operand)
    if isinstance(node, f.Binary) and node.op in ("+", "-", "*", "/"):
        return _is_constant(node.left) and _is_constant(node.right)
    return False


class Translator:
    """Translate one kind of tree; ``column`` and ``atom`` give the leaves."""

    def __init__(
        self,
        dialect: SqlDialect,
        functions: Mapping[str, FunctionSpec],
        column: Callable[[f.Ref], exp.Expression] | None = None,
        atom: Callable[[Atom], exp.Expression] | None = None,
        time: Callable[[str, f.Node, exp.Expression], exp.Expression] | None = None,
        period_days: Callable[[], exp.Expression] | None = None,
    ) -> None:
        self.dialect = dialect
        self.functions = functions
        self.column = column
        self.atom = atom
        #: turns a time argument of a row function into local time or an instant (``FunctionSpec.time_args``)
        self.time = time
        self.period_days = period_days

    def __call__(self, node: f.Node) -> exp.Expression:
        if _is_constant(node) and not isinstance(node, f.Number):
            value = fold_constant(node)
            return lit(_normalise(value)) if value is not None else exp.null()
        method = getattr(self, f"_{type(node).__name__}")
        return method(node)

    # -- leaves ----------------------------------------------------------------
    def _Number(self, node: f.Number) -> exp.Expression:
        return lit(node.value)

    def _String(self, node: f.String) -> exp.Expression:
        return lit(node.value)

    def _Boolean(self, node: f.Boolean) -> exp.Expression:
        return lit(node.value)

    def _Null(self, node: f.Null) -> exp.Expression:
        return exp.null()

    def _Ref(self, node: f.Ref) -> exp.Expression:
        assert self.column is not None, f"no column resolver for {node.dotted}"
        return self.column(node)

    def _AtomRef(self, node: AtomRef) -> exp.Expression:
        assert self.atom is not None and node.atom is not None
        return self.atom(node.atom)

    def _PeriodDays(self, node: PeriodDays) -> exp.Expression:
        assert self.period_days is not None, "period_days() outside a metric"
        return self.period_days()

    # -- operators -------------------------------------------------------------
    def _Binary(self, node: f.Binary) -> exp.Expression:
        left, right = self(node.left), self(node.right)
        if node.op == "/":
            return self.dialect.divide(left, right)
        if node.op in _ARITHMETIC:
            return binary(_ARITHMETIC[node.op], left, right)
        if node.op in _COMPARE:
            return binary(_COMPARE[node.op], left, right)
        if node.op == "and":  # AND binds tighter than OR: only OR operands need parentheses
            return exp.And(this=_paren_or(left), expression=_paren_or(right))
        if node.op == "or":
            return exp.Or(this=left, expression=right)
        raise AssertionError(node.op)

    def _Not(self, node: f.Not) -> exp.Expression:
        return exp.Not(this=wrap(self(node.operand)))

    def _Negate(self, node: f.Negate) -> exp.Expression:
        return exp.Neg(this=wrap(self(node.operand)))

    def _IsNull(self, node: f.IsNull) -> exp.Expression:
        test = exp.Is(this=wrap(self(node.operand)), expression=exp.null())
        return exp.Not(this=test) if node.negated else test

    def _InList(self, node: f.InList) -> exp.Expression:
        test = exp.In(this=wrap(self(node.operand)), expressions=[self(item) for item in node.items])
        return exp.Not(this=exp.Paren(this=test)) if node.negated else test

    def _Between(self, node: f.Between) -> exp.Expression:
        test = exp.Between(this=wrap(self(node.operand)), low=wrap(self(node.low)), high=wrap(self(node.high)))
        return exp.Not(this=exp.Paren(this=test)) if node.negated else test

    def _Like(self, node: f.Like) -> exp.Expression:
        test = self.dialect.like(wrap(self(node.operand)), node.pattern)
        return exp.Not(this=exp.Paren(this=test)) if node.negated else test

    def _Call(self, node: f.Call) -> exp.Expression:
        spec = self.functions[node.name]
        assert spec.kind == "row" and spec.sql is not None, f"{node.name} is not a row function"
        args = [self(arg) for arg in node.args]
        if spec.time_args is not None and self.time is not None:
            args = [self.time(spec.time_args, node_arg, value) for node_arg, value in zip(node.args, args)]
        return spec.sql(self.dialect, args)


def _paren_or(condition: exp.Expression) -> exp.Expression:
    return exp.Paren(this=condition) if isinstance(condition, exp.Or) else condition


def _normalise(value: Decimal) -> Decimal:
    """Drop the noise digits a division leaves (1/3 → 0.3333…, 28 places)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()
