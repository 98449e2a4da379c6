"""Pass: a stock reads its dataset once, and so do the flows placed by the stock's own from and to
columns (new and churned customers beside active customers): they are regrouped from the stock's
read instead of scanning the dataset again.

Only flows whose measures combine across groups fold (count, sum, min, max); a plain average or a
distinct count keeps its own scan. Flows by another time column keep theirs: on DuckDB two plain
scans of a table by two columns are faster than one read grouped by both.
"""

from __future__ import annotations

import dataclasses

from ..plan import Plan
from .context import CompileContext

__all__ = ["fold_into_stocks"]

_REGROUPABLE = frozenset({"count", "sum", "min", "max"})


def fold_into_stocks(plan: Plan, ctx: CompileContext) -> Plan:
    for stock in plan.stocks:
        active = ctx.catalog.datasets[stock.dataset].model.active
        assert active is not None
        sides = {active.from_: "from", **({active.to: "to"} if active.to else {})}
        for scan in plan.scans:
            if (scan.dataset == stock.dataset and scan.level == stock.level and scan.time in sides
                    and scan.folded_into is None and all(m.func in _REGROUPABLE for m in scan.measures)):
                folded = dataclasses.replace(scan, folded_into=stock.cte, side=sides[scan.time])
                plan = plan.replace_item("scans", scan, folded)
    return plan
