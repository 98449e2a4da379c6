"""A KPI's status against its target, and what the output needs to show a KPI.

Kept free of pydantic so the command's fast path can show results without
loading the models.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DISPLAY_FIELDS", "KpiDisplay", "status"]


def status(value: float | None, target: float | None, warning: float | None, direction: str) -> str | None:
    """``ok``, ``warn``, ``bad``, or None when the value or target is null (SPEC §3.2).

    ok: the value meets the target in the KPI's direction; warn: it is between
    warning and target; bad: otherwise. Direction none judges nothing.
    """
    if value is None or target is None or direction == "none":
        return None
    if direction == "higher":
        if value >= target:
            return "ok"
        return "warn" if warning is not None and value >= warning else "bad"
    if value <= target:
        return "ok"
    return "warn" if warning is not None and value <= warning else "bad"


@dataclass(frozen=True, slots=True)
class KpiDisplay:
    """The part of a KPI definition that formatting and status read.

    The one list of display fields: ``Kpi.display()`` copies these by name from the model (whose
    fields of the same names carry the same defaults), and the cached ``kpi run`` stores them.
    A field that formatting or status reads belongs here, or the cached run cannot show it.
    """

    name: str
    format: str = "number"
    decimals: int | None = None
    unit: str | None = None
    target: float | None = None
    warning: float | None = None
    direction: str = "higher"

    def status(self, value: float | None) -> str | None:
        return status(value, self.target, self.warning, self.direction)


#: the names of :class:`KpiDisplay`'s fields, in order
DISPLAY_FIELDS: tuple[str, ...] = tuple(field.name for field in fields(KpiDisplay))
