"""The change of a KPI against its previous period, as ``kpi check`` and the report state it.

For a percent KPI the change is ``value - previous`` (a fraction: -0.033 is -3.3 percentage points);
for any other KPI it is ``(value - previous) / previous``. It is None when either value is None or
previous is 0, for percents too: the rule is one for every KPI, so a reader never has to know
which kind a KPI is to tell why its change is empty.
"""

from __future__ import annotations

from typing import Any

__all__ = ["change", "change_text"]


def change(value: Any, previous: Any, fmt: str) -> float | None:
    """The change from ``previous`` to ``value``; None when there is none to state."""
    if not _number(value) or not _number(previous):
        return None
    if previous == 0:
        return None
    if fmt == "percent":
        return float(value) - float(previous)
    return (float(value) - float(previous)) / float(previous)


def change_text(delta: float | None, fmt: str) -> str:
    """``+0.9 pp`` for percents, ``-3.9%`` for the others, empty without a change (never ``-0.0``)."""
    if delta is None:
        return ""
    text = f"{delta * 100:+.1f}"
    text = "+0.0" if text == "-0.0" else text
    return f"{text} pp" if fmt == "percent" else f"{text}%"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
