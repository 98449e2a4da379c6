"""One Python type per kind of value, whatever the engine returned."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Sequence
from typing import Any

__all__ = ["normalise_value", "with_booleans"]


def normalise_value(value: Any) -> Any:
    """Dates as ISO text (a midnight timestamp as its date), decimals as int or float, UUIDs as text."""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def with_booleans(rows: list[tuple], positions: Sequence[int]) -> list[tuple]:
    """Rows with the 0/1 of the given columns as False/True (engines without a boolean type)."""
    if not positions:
        return rows
    chosen = set(positions)
    return [tuple(bool(v) if i in chosen and v is not None else v for i, v in enumerate(row)) for row in rows]
