"""Pass: --where, parsed and checked by the binder: a row condition over dimension names (defined on
every dataset the query reads). Each name is replaced by its dimension's expression per dataset when
rendered."""

from __future__ import annotations

import dataclasses

from ...errors import QueryError
from ...formulas import syntax as f
from ..plan import Plan
from .context import CompileContext

__all__ = ["bind_where"]


def bind_where(plan: Plan, ctx: CompileContext) -> Plan:
    if plan.query.where is None:
        return plan
    text = f.FormulaText.standalone(plan.query.where, "--where", label="--where condition", error_type=QueryError)
    return dataclasses.replace(plan, where=ctx.binder.bind_where(text, plan.datasets))
