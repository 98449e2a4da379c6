"""Compiling a query: its plan, built by the passes in order, then rendered for one dialect."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from ..definitions.catalog import Catalog, DatasetEntry
from ..formulas.binder import Binder
from .dialects import SqlDialect
from .periods import UTC, Calendar
from .passes import PASSES, CompileContext, build_plan
from .plan import CompiledQuery, Plan
from .query import Query
from .render import render

__all__ = ["QueryCompiler"]

Relation = Callable[[DatasetEntry, SqlDialect], exp.Expression]


class QueryCompiler:
    """Compiles queries over one catalog for one dialect.

    ``relation`` gives the FROM expression of a dataset (a table, a parsed ``sql:``, a file
    reader), which depends on its connector; ``source_name`` the source a dataset reads.
    """

    def __init__(self, catalog: Catalog, binder: Binder, dialect: SqlDialect, relation: Relation,
                 source_name: Callable[[str], str] | None = None, *, calendar: Calendar = UTC,
                 time_kind: Callable[[str, str], str | None] | None = None) -> None:
        self.context = CompileContext(catalog, binder, dialect, relation,
                                      source_name or (lambda ds: catalog.datasets[ds].model.source), calendar,
                                      time_kind or (lambda dataset, column: None))

    def plan(self, query: Query) -> Plan:
        """The finished plan of a query (every check made, nothing rendered)."""
        return build_plan(Plan(query), self.context, PASSES)

    def compile(self, query: Query) -> CompiledQuery:
        return render(self.plan(query), self.context)
