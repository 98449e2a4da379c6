"""Pass: --where, parsed and checked: dimension names (on the datasets the query reads) and row
functions only. Each name is replaced by its dimension's expression per dataset when rendered."""

from __future__ import annotations

import dataclasses

from ...errors import QueryError, unknown
from ...formulas import syntax as f
from ...formulas.parser import parse_formula
from ..plan import Plan
from .context import CompileContext

__all__ = ["bind_where"]


def bind_where(plan: Plan, ctx: CompileContext) -> Plan:
    if plan.query.where is None:
        return plan
    text = f.FormulaText.standalone(plan.query.where, "--where", label="--where condition", error_type=QueryError)
    node = parse_formula(text)
    datasets = ctx.catalog.datasets
    known = sorted({d for ds in plan.datasets for d in datasets[ds].model.dimensions})
    for item in f.walk(node):
        if isinstance(item, f.Ref):
            if item.qualifier is not None:
                raise text.error(item, f"--where reads dimensions only, not '{item.dotted}'",
                                 hint="define it as a dimension of the dataset", code="bad-where")
            for ds in plan.datasets:
                if item.name not in datasets[ds].model.dimensions:
                    raise text.error(item, unknown("dimension", item.name, known, where=f" on dataset '{ds}'"),
                                     code="unknown-dimension")
        elif isinstance(item, f.Star):
            raise text.error(item, "'*' has no place in --where", code="bad-where")
        elif isinstance(item, f.Call):
            spec = ctx.catalog.functions.get(item.name)
            if spec is None:
                raise text.error(item.name_span, unknown("function", item.name, ctx.catalog.functions),
                                 code="unknown-function")
            if spec.kind != "row":
                raise text.error(item.name_span, f"{item.name}() is not allowed in --where: it filters "
                                 "rows by dimension values", code="bad-where")
            n = len(item.args)
            if n < spec.min_args or (spec.max_args is not None and n > spec.max_args) or item.named:
                raise text.error(item, spec.arity_message(), code="arity")
            if item.where is not None:
                raise text.error(item.where, "'where' only goes inside an aggregate", code="bad-where")
            problem = spec.check(item) if spec.check is not None else None
            if problem is not None:
                raise text.error(problem[0], problem[1], code="bad-argument")
    return dataclasses.replace(plan, where=node)
