"""Pass: what the query asks is possible: --by names, one source, its dimensions on every dataset it
reads. Every error says what to change."""

from __future__ import annotations

from ...errors import KpiError, QueryError, raise_all, unknown
from ..plan import Plan
from .context import CompileContext

__all__ = ["check_query"]


def check_query(plan: Plan, ctx: CompileContext) -> Plan:
    _check_names(plan)
    _check_sources(plan, ctx)
    _check_dimensions(plan, ctx)
    return plan


def _check_names(plan: Plan) -> None:
    for name in plan.query.by:
        if name == "period":
            raise QueryError("'period' cannot be a --by dimension: it is the period column", code="bad-by")
        if name in plan.query.kpis:
            raise QueryError(f"'{name}' is both a KPI and a --by dimension of this query", code="bad-by")


def _check_sources(plan: Plan, ctx: CompileContext) -> None:
    sources = {ctx.source_name(ds) for ds in plan.datasets}
    for ds in plan.datasets:
        for join in ctx.catalog.datasets[ds].model.joins.values():
            sources.add(ctx.source_name(join.dataset))
    if len(sources) > 1:
        raise QueryError(
            "this query reads datasets of several sources (" + ", ".join(sorted(sources))
            + "); one query runs on one source: query their KPIs separately",
            code="several-sources",
        )


def _check_dimensions(plan: Plan, ctx: CompileContext) -> None:
    errors: list[KpiError] = []
    for ds in plan.datasets:
        entry = ctx.catalog.datasets[ds]
        for dim in plan.query.by:
            if dim not in entry.model.dimensions:
                errors.append(QueryError(
                    unknown("dimension", dim, entry.model.dimensions, where=f" on dataset '{ds}'")
                    + " (a --by dimension must be defined on every dataset the query reads)",
                    span=entry.name_span, code="unknown-dimension"))
                continue
            try:
                ctx.binder.dimension(ds, dim)
            except KpiError as exc:
                errors.append(exc)
    raise_all(errors)
