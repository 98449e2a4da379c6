"""PostgreSQL rows with the value types DuckDB gives for the same query.

kpi_engine turns a Decimal into an ``int`` when it has no fraction digits and
into a ``float`` otherwise. DuckDB's DECIMAL columns have one scale, so a
column is all ints or all floats. PostgreSQL's ``numeric`` results have no fixed
scale: ``sum(price)`` is ``10.2500`` in one period and the ``0`` that fills an
empty period in the next, which would come out as ``10.25`` and ``0`` (an int).
So a numeric column with fraction digits in any row becomes floats in every row.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

__all__ = ["consistent_decimals"]


def consistent_decimals(rows: Sequence[Sequence[Any]]) -> list[tuple]:
    """The rows, with every Decimal of a column that has a fractional Decimal as a float."""
    rows = [tuple(row) for row in rows]
    if not rows:
        return rows
    fractional = {
        i for i in range(len(rows[0]))
        if any(isinstance(row[i], Decimal) and _has_fraction_digits(row[i]) for row in rows)
    }
    if not fractional:
        return rows
    return [
        tuple(float(v) if i in fractional and isinstance(v, Decimal) else v for i, v in enumerate(row))
        for row in rows
    ]


def _has_fraction_digits(value: Decimal) -> bool:
    exponent = value.as_tuple().exponent
    return not isinstance(exponent, int) or exponent < 0  # NaN and infinities are no ints either
