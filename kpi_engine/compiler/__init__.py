"""Queries → SQL: planning per dataset, the time spine, windows, and per-dialect expressions."""

from .build import CompiledQuery, QueryCompiler
from .dialects import SqlDialect, dialect_for, known_dialects
from .query import Query

__all__ = ["CompiledQuery", "Query", "QueryCompiler", "SqlDialect", "dialect_for", "known_dialects"]
