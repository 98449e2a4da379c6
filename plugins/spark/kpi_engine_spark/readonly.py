"""The Spark connection's last line of defence: only queries reach Spark.

Spark SQL can write (INSERT, CREATE TABLE, DROP VIEW, CACHE TABLE, SET ...), and
a Spark session has no read-only mode. The engine only sends SELECTs and refuses
a dataset's ``sql:`` that writes; this check refuses, before Spark sees it, any
statement that is not one query, with the same rules (``parse_select``), plus the
functions that call arbitrary Java methods from inside a SELECT.
"""

from __future__ import annotations

from sqlglot import exp

from kpi_engine import DefinitionError
from kpi_engine.sources.base import parse_select

__all__ = ["refusal"]

#: reflect('java.lang.System', 'setProperty', ...) runs any static Java method.
_JAVA_CALLS = frozenset({"reflect", "java_method", "try_reflect"})


def refusal(sql: str) -> str | None:
    """What is refused in ``sql`` (completing "refused ..."), or None when it is one query that only reads."""
    try:
        tree = parse_select(sql, "spark")
    except DefinitionError as exc:
        if exc.code in ("sql-syntax", "empty"):  # parse_select's codes for text that is not SQL at all
            return "a statement it cannot parse as one SELECT query"
        return "a statement that is not one SELECT query: running KPIs never writes data"
    for node in tree.find_all(exp.Anonymous, exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if name in _JAVA_CALLS:
            return f"a query that calls {name}(), which runs Java methods that could write"
    return None
