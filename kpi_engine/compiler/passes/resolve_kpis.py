"""Pass: the query's KPIs as bound metric trees, and the datasets they read."""

from __future__ import annotations

import dataclasses

from ...errors import KpiError, QueryError, raise_all, unknown
from ...formulas import syntax as f
from ...formulas.binder import PeriodDays, atoms_of, map_atoms
from ..plan import Plan
from .context import CompileContext

__all__ = ["resolve_kpis"]


def resolve_kpis(plan: Plan, ctx: CompileContext) -> Plan:
    query = plan.query
    metrics = []
    errors: list[KpiError] = []
    for name in query.kpis:
        if name not in ctx.catalog.kpis:
            errors.append(QueryError(unknown("KPI", name, ctx.catalog.kpis), code="unknown-kpi"))
            continue
        try:
            tree = ctx.binder.metric(name)
        except KpiError as exc:
            errors.append(exc)
            continue
        if not query.by:  # without dimensions, total(x) is x
            tree = map_atoms(tree, lambda a: dataclasses.replace(a, total=False))
        metrics.append((name, tree))
    raise_all(errors)
    atoms = [a for _, tree in metrics for a in atoms_of(tree)]
    unbounded = query.start is None or query.end is None
    if not atoms and query.grain != "all" and unbounded:
        raise QueryError("these KPIs read no dataset, so no period has rows: give --from and --to",
                         code="no-periods")
    if not atoms and unbounded and any(isinstance(n, PeriodDays) for _, tree in metrics for n in f.walk(tree)):
        raise QueryError("period_days() at --grain all counts the days from the first to the last with rows, "
                         "and these KPIs read no dataset: give --from and --to", code="no-periods")
    return dataclasses.replace(plan, metrics=tuple(metrics), atoms=tuple(dict.fromkeys(atoms)),
                               datasets=tuple(sorted({a.dataset for a in atoms})))
