"""What every pass may read besides the plan: the definitions and the target, never changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...definitions.catalog import Catalog, DatasetEntry
from ...formulas.binder import Atom, Binder
from ..dialects import SqlDialect
from ..plan import COMBINABLE

__all__ = ["CompileContext", "scan_key"]


@dataclass(frozen=True)
class CompileContext:
    catalog: Catalog
    binder: Binder
    dialect: SqlDialect
    #: a dataset's FROM expression (a table, a parsed sql:, a file reader), which depends on its connector
    relation: Callable[[DatasetEntry, SqlDialect], object]
    #: the source a dataset reads
    source_name: Callable[[str], str]


def scan_key(atom: Atom, level: str, catalog: Catalog) -> tuple[str, str | None, str]:
    """(dataset, time column, level) of the flow scan that computes ``atom`` at ``level``.

    Totals of combinable aggregates are rolled up from the dimensions scan: one pass.
    """
    time = atom.time or catalog.datasets[atom.dataset].model.time
    return atom.dataset, time, "d" if (level == "t" and atom.func in COMBINABLE) else level
