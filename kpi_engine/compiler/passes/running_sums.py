"""Pass: running sums (stocks, cumulative()) need every earlier row, but not in separate periods:
rows before the spine are summed into one period just before it, the clamp."""

from __future__ import annotations

import dataclasses

from ..plan import Plan
from .context import CompileContext

__all__ = ["clamp_running_sums"]


def clamp_running_sums(plan: Plan, ctx: CompileContext) -> Plan:
    bounds = plan.bounds
    if bounds.lo is None or plan.all or not (plan.stocks or any(s.unbounded for s in plan.scans)):
        return plan
    clamp = (bounds.spine_lower if bounds.spine_lower is not None else bounds.lo) - 1
    return dataclasses.replace(plan, bounds=dataclasses.replace(bounds, clamp=clamp, spine_lower=clamp))
