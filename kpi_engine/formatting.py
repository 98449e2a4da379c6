"""How values are shown to people: by a KPI's ``format``, ``decimals`` and ``unit``.

Only the table output and the demo use this; JSON and CSV carry raw numbers.
``percent`` values are fractions (0.75 shows as 75.0%); ``duration`` values
are seconds (4m 05s).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .definitions.model import Kpi
    from .status import KpiDisplay


__all__ = ["format_duration", "format_value", "render_table"]

NULL = "-"


def format_value(value: Any, kpi: Kpi | KpiDisplay | None = None) -> str:
    if value is None:
        return NULL
    if kpi is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        if isinstance(value, float):
            return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.2f}"
        return str(value)
    fmt, decimals = kpi.format, kpi.decimals
    if fmt == "percent":
        return f"{value * 100:,.{1 if decimals is None else decimals}f}%"
    if fmt == "integer":
        return f"{round(value):,}"
    if fmt == "duration":
        return format_duration(value)
    if fmt == "currency":
        text = f"{value:,.{2 if decimals is None else decimals}f}"
        return f"{text} {kpi.unit}" if kpi.unit else text
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 2
    text = f"{value:,.{decimals}f}"
    return f"{text} {kpi.unit}" if kpi.unit else text


def format_duration(seconds: float) -> str:
    """45s, 4m 05s, 2h 10m, 3d 04h: two units, rounded down."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds:.0f}s" if seconds >= 10 else f"{sign}{seconds:.1f}s"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m {secs:02d}s"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[bool] | None = None) -> str:
    """A plain aligned text table."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    right = right or [False] * len(headers)

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "  ".join(parts).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(row) for row in rows]
    return "\n".join(out)
