"""Row conditions on formula trees: combining them, and moving a KPI filter shared by every
measure of a scan from each FILTER clause into its WHERE."""

from __future__ import annotations

from collections.abc import Sequence

from ..formulas import syntax as f

__all__ = ["and_nodes", "shared_filter", "without_filter"]


def and_nodes(a: f.Node | None, b: f.Node | None) -> f.Node | None:
    if a is None or b is None:
        return a if b is None else b
    return f.Binary(0, 0, op="and", left=a, right=b)


def shared_filter(filters: Sequence[f.Node | None]) -> tuple[f.Node | None, f.Node | None]:
    """From the KPI filters of a scan's aggregates: (WHERE condition, filter already in every measure).

    The rows a query reads are those passing some KPI filter; when every
    aggregate has the same filter it moves from each FILTER clause to WHERE.
    """
    distinct = list(dict.fromkeys(filters))
    if not distinct or any(x is None for x in distinct):
        return None, None
    if len(distinct) == 1:
        return distinct[0], distinct[0]
    where = distinct[0]
    for other in distinct[1:]:
        where = f.Binary(0, 0, op="or", left=where, right=other)
    return where, None


def without_filter(condition: f.Node | None, shared: f.Node | None) -> f.Node | None:
    """A measure's condition without the KPI filter that WHERE already applies."""
    if shared is None or condition is None:
        return condition
    if condition == shared:
        return None
    if isinstance(condition, f.Binary) and condition.op == "and" and condition.right == shared:
        return condition.left
    return condition
