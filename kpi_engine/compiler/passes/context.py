"""What every pass may read besides the plan: the definitions and the target, never changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...definitions.catalog import Catalog, DatasetEntry
from ...formulas.binder import Atom, Binder
from ..dialects import SqlDialect
from ..periods import UTC, Calendar, Move, shift_moves as _moves
from ..plan import COMBINABLE, Plan

__all__ = ["CompileContext", "scan_key", "shift_moves"]


@dataclass(frozen=True)
class CompileContext:
    catalog: Catalog
    binder: Binder
    dialect: SqlDialect
    #: a dataset's FROM expression (a table, a parsed sql:, a file reader), which depends on its connector
    relation: Callable[[DatasetEntry, SqlDialect], object]
    #: the source a dataset reads
    source_name: Callable[[str], str]
    #: the project's calendar (a query may name another time zone)
    calendar: Calendar = UTC
    #: what a dataset's column holds: "date", "timestamp" (naive), "timestamptz" (an instant), or None when
    #: the source cannot say (taken as naive)
    time_kind: Callable[[str, str], str | None] = lambda dataset, column: None


def scan_key(atom: Atom, level: str, catalog: Catalog) -> tuple[str, str | None, str]:
    """(dataset, time column, level) of the flow scan that computes ``atom`` at ``level``.

    Totals of combinable aggregates are rolled up from the dimensions scan: one pass.
    """
    time = atom.time or catalog.datasets[atom.dataset].model.time
    return atom.dataset, time, "d" if (level == "t" and atom.func in COMBINABLE) else level


def shift_moves(atom: Atom, plan: Plan) -> tuple[Move, ...]:
    """The moves of an atom's previous() steps at the query's grain and calendar."""
    return _moves(((step.n, step.unit) for step in atom.shift), plan.grain, plan.calendar)
