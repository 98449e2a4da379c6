"""What each MCP tool answers, as plain functions over a Project.

Every answer is a JSON object (MCP's structured content is an object): lists come under a key
(``{"kpis": [...]}``), and ``query`` answers with the body of the HTTP API's ``/query``
(``columns``, ``rows``, ``meta``) plus ``formatted``, the same rows with every value shown as
``kpi run`` shows it in a table (``84.1%``, ``5m 25s``). Errors are kpi_engine's own
(:class:`~kpi_engine.errors.KpiError`), raised for the server to turn into tool errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..compiler.query import parse_date
from ..errors import QueryError
from ..formatting import format_value
from ..result import query_body
from ..timezones import check_zone

if TYPE_CHECKING:
    from ..project import Project
    from ..result import Result

__all__ = ["compile_sql", "describe_kpi", "list_dimensions", "list_kpis", "query", "with_formatted"]

def list_kpis(project: Project, *, include_hidden: bool = False) -> dict[str, Any]:
    """The KPIs an assistant can offer, in definition order; hidden helpers only when asked."""
    kpis = []
    for kpi in project.kpis.values():
        if kpi.hidden and not include_hidden:
            continue
        entry = {"name": kpi.name, "title": kpi.display_title, "description": kpi.description,
                 "format": kpi.format, "unit": kpi.unit, "direction": kpi.direction, "target": kpi.target,
                 "tags": list(kpi.tags)}
        if include_hidden:
            entry["hidden"] = kpi.hidden
        kpis.append(entry)
    return {"kpis": kpis}


def list_dimensions(project: Project, kpis: Sequence[str] | None = None) -> dict[str, Any]:
    """Each dimension, the datasets that define it and the KPIs a query may break down by it."""
    return {"dimensions": project.dimensions(list(kpis) if kpis else None)}


def describe_kpi(project: Project, name: str) -> dict[str, Any]:
    """One KPI's definition: title, description, formula, filter, target, owner, dimensions, uses..."""
    return project.describe(name)


def query(project: Project, kpis: Sequence[str], *, grain: str = "month", by: Sequence[str] | None = None,
          where: str | None = None, start: str | None = None, end: str | None = None, timezone: str | None = None,
          status: bool = False, max_rows: int | None = None) -> dict[str, Any]:
    """Run a query; the answer is the ``/query`` body plus the formatted rows.

    ``max_rows`` bounds what an assistant's context receives: a larger result is an error that
    says how to narrow the query, rather than rows silently cut (a cut table reads as complete).
    """
    first, last = _dates(start, end)
    result = project.query(list(kpis), grain=grain, by=list(by or ()), where=where, start=first, end=last,
                           timezone=_zone(timezone))
    if max_rows is not None and len(result.rows) > max_rows:
        raise QueryError(f"the query returns {len(result.rows):,} rows, more than the {max_rows:,} this server "
                         "answers with; narrow it: a coarser grain, a shorter start..end range, fewer 'by' "
                         "dimensions or a 'where' condition", code="too-many-rows")
    return with_formatted(result.with_status() if status else result)


def compile_sql(project: Project, kpis: Sequence[str], *, dialect: str | None = None, grain: str = "month",
                by: Sequence[str] | None = None, where: str | None = None, start: str | None = None,
                end: str | None = None, timezone: str | None = None) -> dict[str, Any]:
    """The SQL of a query, as ``POST /compile`` answers it: ``{"sql": ...}``."""
    first, last = _dates(start, end)
    sql = project.compile(list(kpis), dialect=dialect, grain=grain, by=list(by or ()), where=where,
                          start=first, end=last, timezone=_zone(timezone))
    return {"sql": sql}


def with_formatted(result: Result) -> dict[str, Any]:
    """The ``/query`` body (:func:`kpi_engine.result.query_body`: rows as objects with raw values, percent
    as fractions, durations in seconds) plus ``formatted``, the same objects with each value as text, as a
    ``kpi run`` table shows it (null as ``-``)."""
    body = query_body(result)
    body["formatted"] = [{column: format_value(value, result.kpis.get(column)) for column, value in row.items()}
                         for row in body["rows"]]
    return body


def _zone(name: str | None) -> str | None:
    """The query's time zone, its error naming the tool's argument (the CLI's names --timezone)."""
    if name is None or not name.strip():
        return None
    problem = check_zone(name.strip())
    if problem is not None:
        raise QueryError(f"timezone: {problem}", code="bad-timezone")
    return name.strip()


def _dates(start: str | None, end: str | None) -> tuple[dt.date | None, dt.date | None]:
    """The range, with errors that name the tool's arguments (the CLI's name theirs: --from, --to)."""
    first, last = parse_date(start, "start"), parse_date(end, "end")
    if first and last and first > last:
        raise QueryError(f"start {first} is after end {last}", code="bad-range")
    return first, last
