"""``round(x, n)`` as one rule on every engine: the binary double x, rounded half away from zero.

Engines disagree on ``round(42.025, 2)``: the double 42.025 is 42.02499999999999857..., so the rule
gives 42.02, but DuckDB and SQLite multiply by 100 first (4202.5 after the product's own rounding)
and give 42.03, and PostgreSQL and Spark round a decimal conversion. Only ties need care: the
product ``p = x * 10^n`` is a double whose fractional part is exactly .5 while the exact product
may be just below (or above) the tie. Dekker's TwoProduct gives the product's rounding error
``e`` exactly (``x * s = p + e``) with plain double arithmetic, which every engine does the IEEE
way, so the sign of ``e`` decides a tie the way exact arithmetic would. For ``n < 0`` the same is
done for the quotient ``p = x / 10^-n`` (the error of ``p * 10^-n`` against x).

Digits are a whole number written in the formula, checked by ``round()`` (``formulas.functions.MAX_DIGITS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from .sql import binary, lit

if TYPE_CHECKING:
    from .dialects import SqlDialect

__all__ = ["exact_round", "split"]

_SPLITTER = 134217729.0  # 2**27 + 1: splits a double into two halves of 26 bits
_INTEGRAL = 4503599627370496.0  # 2**52: doubles this large are whole numbers already


def split(value: float) -> tuple[float, float]:
    """Dekker's split: ``value == high + low`` exactly, each with at most 26 significant bits."""
    c = _SPLITTER * value
    high = c - (c - value)
    return high, value - high


def exact_round(d: SqlDialect, value: exp.Expression, digits: int) -> exp.Expression:
    """The SQL of round(value, digits) by the rule above; null stays null.

    Half away from zero is symmetric, so the magnitude ``a = |x|`` is rounded half up and the
    sign put back once: ``a`` appears in the expression about a dozen times, x twice.
    """
    x = d.double(value)
    a = exp.Abs(this=x.copy())
    scale = float(10 ** abs(digits))

    def op(kind: type[exp.Binary], left: exp.Expression, right: exp.Expression | float) -> exp.Expression:
        right = lit(right) if isinstance(right, float) else right
        return binary(kind, left.copy(), right.copy())

    def product_error(u: exp.Expression, product: exp.Expression) -> exp.Expression:
        """``u * scale - product`` exactly, for ``product = u * scale`` rounded (Dekker's TwoProduct)."""
        c = op(exp.Mul, u, _SPLITTER)
        u_high = op(exp.Sub, c, op(exp.Sub, c, u))
        u_low = op(exp.Sub, u, u_high)
        s_high, s_low = split(scale)
        error = op(exp.Add, op(exp.Sub, op(exp.Mul, u_high, s_high), product), op(exp.Mul, u_low, s_high))
        if s_low:  # 10**n has at most 26 significant bits up to n = 11: then these terms are 0
            error = op(exp.Add, op(exp.Add, error, op(exp.Mul, u_high, s_low)), op(exp.Mul, u_low, s_low))
        return error

    if digits >= 0:
        q = op(exp.Mul, a, scale)
        at_or_above_tie = exp.GTE(this=product_error(a, q), expression=lit(0.0))  # exact a * scale >= q
    else:
        q = exp.Div(this=a.copy(), expression=lit(scale), typed=False, safe=False)
        high = op(exp.Mul, q, scale)
        # exact a / scale >= q  <=>  a >= q * scale = high + low; a - high is exact (Sterbenz)
        at_or_above_tie = exp.GTE(this=op(exp.Sub, a, high), expression=product_error(q, high))
    whole = d.floor_nonnegative(q.copy())
    fraction = op(exp.Sub, q, whole)
    up = exp.Or(this=exp.GT(this=fraction, expression=lit(0.5)),
                expression=exp.Paren(this=exp.And(this=exp.EQ(this=fraction.copy(), expression=lit(0.5)),
                                                  expression=at_or_above_tie)))
    rounded = exp.Case(ifs=[exp.If(this=up, true=op(exp.Add, whole, 1.0))], default=op(exp.Add, whole, 0.0))
    if digits >= 0:
        magnitude = exp.Div(this=exp.Paren(this=rounded), expression=lit(scale), typed=False, safe=False)
    else:
        magnitude = op(exp.Mul, exp.Paren(this=rounded), scale)
    sign = exp.Case(ifs=[exp.If(this=exp.LT(this=x.copy(), expression=lit(0.0)), true=lit(-1.0))], default=lit(1.0))
    # q >= 2**52 is a whole number already: nothing to round (a itself when digits >= 0)
    return exp.Case(ifs=[exp.If(this=exp.GTE(this=q.copy(), expression=lit(_INTEGRAL)),
                                true=x.copy() if digits >= 0 else op(exp.Mul, op(exp.Mul, sign, q), scale))],
                    default=op(exp.Mul, sign, magnitude))
