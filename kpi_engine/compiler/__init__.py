"""Queries → SQL: a plan built by passes, then rendered per dialect.

The names below are imported on first use, so that light modules (the command line) can import
``compiler.periods`` or ``compiler.query`` without loading sqlglot.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CompiledQuery": "plan",
    "QueryCompiler": "compile",
    "SqlDialect": "dialects",
    "dialect_for": "dialects",
    "known_dialects": "dialects",
    "Query": "query",
}

__all__ = ["CompiledQuery", "Query", "QueryCompiler", "SqlDialect", "dialect_for", "known_dialects"]

if TYPE_CHECKING:  # pragma: no cover
    from .compile import QueryCompiler
    from .dialects import SqlDialect, dialect_for, known_dialects
    from .plan import CompiledQuery
    from .query import Query


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kpi_engine.compiler' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)
