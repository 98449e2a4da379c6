"""Pass: every aggregate can be computed at the query's grain (windows, previous() and stocks
need periods; to_date() needs periods that fit in its grain; flows need a time column)."""

from __future__ import annotations

from ...errors import KpiError, QueryError, raise_all
from .. import periods as P
from ..plan import Plan
from .context import CompileContext

__all__ = ["check_grain"]


def check_grain(plan: Plan, ctx: CompileContext) -> Plan:
    errors: list[KpiError] = []
    every = plan.all
    for atom in plan.atoms:
        entry = ctx.catalog.datasets[atom.dataset]
        finer = None if every else next(
            (step for step in atom.shift if step.unit and P.unit_finer_than(step.unit, plan.grain)), None)
        if finer is not None:
            errors.append(QueryError(
                f"{finer.describe()} cannot be read at --grain {plan.grain}: a {finer.unit} is shorter than a "
                f"{_grain_noun(plan.grain)}", span=finer.span,
                hint=f"query with --grain {finer.unit}, or use a unit of {_longer_units(plan.grain)}",
                code="bad-grain"))
        elif every and (atom.shift or atom.window):
            what = "previous()" if atom.shift else atom.window.describe()
            errors.append(QueryError(f"{what} compares periods; it needs a grain other than 'all'",
                                     code="bad-grain"))
        elif every and atom.at:
            errors.append(QueryError(f"at={atom.at} reads the rows active at the start or end of each "
                                     "period; it needs a grain other than 'all'", code="bad-grain"))
        elif atom.window and atom.window.kind == "to_date" and not P.contains(plan.grain, atom.window.grain,
                                                                               ctx.calendar):
            errors.append(QueryError(f"to_date(..., {atom.window.grain}) needs periods that fit in a "
                                     f"{atom.window.grain}; --grain {plan.grain} periods do not",
                                     code="bad-grain"))
        elif not every and atom.at is None and (atom.time or entry.model.time) is None:
            errors.append(QueryError(
                f"dataset '{atom.dataset}' has no time column, so its rows fall in no period",
                span=entry.name_span, hint="add 'time: <column>' to the dataset, or query with --grain all",
                code="no-time"))
    raise_all(list(dict.fromkeys(errors)))
    return plan


def _longer_units(grain: str) -> str:
    units = [unit for unit in P.UNITS if not P.unit_finer_than(unit, grain)]
    return units[0] if len(units) == 1 else f"{', '.join(units[:-1])} or {units[-1]}"


def _grain_noun(grain: str) -> str:
    return grain.replace("fiscal_", "fiscal ")
