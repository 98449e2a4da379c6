"""The MCP server of ``kpi mcp``: five tools over one project, on stdio.

Built on the ``mcp`` package's ``MCPServer`` (2.x; FastMCP in 1.x) rather than its low-level
``Server``: each tool is a typed Python function whose signature *is* its input schema (the
argument descriptions an assistant reads are ``Field`` descriptions beside the types), the
SDK checks the arguments against it, runs the function on a worker thread (a Project is safe to
query from several threads) and turns a ``ToolError`` into a tool result with ``isError`` and
our message. The low-level server would have us write the JSON Schemas and that dispatch by
hand, for nothing this server needs.

Errors: every :class:`~kpi_engine.errors.KpiError` becomes a ``ToolError`` carrying the message
the ``kpi`` command prints (file:line:col, the offending line with a caret, did-you-mean), so the
assistant can fix its call or tell the person what to fix. Anything else is a bug: the SDK logs
its traceback on stderr and the assistant sees only "Error executing tool ...".

Stdout is the protocol's channel. While serving, the SDK points file descriptor 1 at stderr and
writes the protocol through a private copy, so nothing else (a plugin's print, an engine's
progress bar) can reach the channel; logs go to stderr.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from .. import __version__
from ..compiler.periods import GRAINS
from ..errors import KpiError
from ..live import LiveProject
from . import tools

__all__ = ["DEFAULT_MAX_ROWS", "create_server", "serve"]

#: The most rows ``query`` answers with (``kpi mcp --max-rows``): an assistant reads every one of them.
DEFAULT_MAX_ROWS = 1000

INSTRUCTIONS = """\
This server computes the KPIs (key performance indicators) defined in one kpi_engine project, on
the project's own data. Start with list_kpis to find the KPI a question is about (by name, title,
description or tags), describe_kpi to read its definition and target, list_dimensions to see what
a KPI can be broken down by, then query to get its values. Never compute a KPI yourself from other
KPIs' values: query it. Quote values as the `formatted` rows show them."""

_ANNOTATIONS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

Kpis = Annotated[list[str], Field(
    min_length=1, description="KPI names as list_kpis gives them (the `name` field), e.g. [\"nps\", \"csat\"].")]
Grain = Annotated[str, Field(
    description=f"Period size, one of: {', '.join(GRAINS)}. 'all' gives one value over the whole range, with no "
                "period column. Weeks start on the project's week start; fiscal periods follow its fiscal year.")]
By = Annotated[list[str] | None, Field(
    description="Dimension names to break the values down by (see list_dimensions), e.g. [\"channel\"]. "
                "Every KPI asked must support each dimension.")]
Where = Annotated[str | None, Field(
    description="A condition over dimension names only (not raw columns, not KPIs), in the KPI formula "
                "language: =, !=, <, >, in (...), and, or, not; text in single quotes. "
                "E.g. \"channel = 'email' and plan in ('pro', 'team')\".")]
Start = Annotated[str | None, Field(
    description="First day, inclusive, as YYYY-MM-DD (e.g. 2025-01-01). Every period that meets start..end is "
                "reported whole. Omitted: the earliest period with data.")]
End = Annotated[str | None, Field(
    description="Last day, inclusive, as YYYY-MM-DD (e.g. 2025-12-31). Omitted: the latest period with data.")]
Timezone = Annotated[str | None, Field(
    description="IANA time zone the periods are cut in (e.g. America/Sao_Paulo); start and end are dates there. "
                "Omitted: the project's calendar zone.")]

_F = TypeVar("_F", bound=Callable[..., Any])


def _tool_errors(function: _F) -> _F:
    """kpi_engine's errors as tool errors with the command's message; nothing else is caught here."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except KpiError as error:
            count = len(error.errors)
            raise ToolError(error.render() + (f"\n\n{count} errors" if count > 1 else "")) from error

    return wrapper  # type: ignore[return-value]


def create_server(project: LiveProject, *, max_rows: int = DEFAULT_MAX_ROWS,
                  lifespan: Callable[[MCPServer], AbstractAsyncContextManager[Any]] | None = None) -> MCPServer:
    """The server with its tools, each reading ``project`` as its files are at the call."""
    server = MCPServer("kpi_engine", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING",
                       lifespan=lifespan)
    tool = functools.partial(server.tool, annotations=_ANNOTATIONS)

    @tool(name="list_kpis")
    @_tool_errors
    def list_kpis(include_hidden: Annotated[bool, Field(
            description="Also list hidden KPIs (helpers other KPIs are built from).")] = False) -> dict[str, Any]:
        """List the project's KPIs: name, title, description, format (percent, duration, currency...), unit,
        direction (higher or lower is better), target and tags. Use it first, to find the KPI names that the
        other tools take."""
        return tools.list_kpis(project.current(), include_hidden=include_hidden)

    @tool(name="list_dimensions")
    @_tool_errors
    def list_dimensions(kpis: Annotated[list[str] | None, Field(
            description="Only the dimensions these KPIs support (omit for every dimension).")] = None,
    ) -> dict[str, Any]:
        """List the dimensions (e.g. channel, region, plan): for each, the datasets that define it and the KPIs
        a query may break down by it. Use it before query's `by` or `where`, which accept dimensions only."""
        return tools.list_dimensions(project.current(), kpis)

    @tool(name="describe_kpi")
    @_tool_errors
    def describe_kpi(name: Annotated[str, Field(description="A KPI name, as list_kpis gives it.")]) -> dict[str, Any]:
        """Describe one KPI: title, description, formula and filter, format, unit, decimals, direction, target
        and warning level, owner, tags, its dataset, the dimensions it supports and the KPIs it is computed
        from (`uses`). Use it to explain what a KPI measures or how it is computed."""
        return tools.describe_kpi(project.current(), name)

    @tool(name="query")
    @_tool_errors
    def query(kpis: Kpis, grain: Grain = "month", by: By = None, where: Where = None, start: Start = None,
              end: End = None, timezone: Timezone = None, status: Annotated[bool, Field(
                  description="Add a column KPI__status (ok, warn, bad) after each KPI that has a target.")] = False,
              ) -> dict[str, Any]:
        """Compute KPIs over periods, optionally broken down by dimensions. Returns `columns`; `rows`, one object
        per period (and dimension values) with raw values (percent KPIs as fractions: 0.25 is 25%; durations in
        seconds); `formatted`, the same rows as people read them (25.0%, 4m 05s); `meta.kpis`, each KPI's
        format, unit, direction and target; and `meta.partial_periods`, the periods still in progress, whose
        values are incomplete. A `period` is the first day of its period (YYYY-MM-DD)."""
        return tools.query(project.current(), kpis, grain=grain, by=by, where=where, start=start, end=end,
                           timezone=timezone, status=status, max_rows=max_rows)

    @tool(name="compile")
    @_tool_errors
    def compile_sql(kpis: Kpis, dialect: Annotated[str | None, Field(
            description="SQL dialect, e.g. snowflake, bigquery, postgres, duckdb, spark; omitted: that of the "
                        "project's source.")] = None,
                    grain: Grain = "month", by: By = None, where: Where = None, start: Start = None,
                    end: End = None, timezone: Timezone = None) -> dict[str, Any]:
        """Give the SQL that computes a query (nothing is run): for a person who wants the query itself, to read
        it, or to run it in their own warehouse. Same arguments as query, plus the dialect."""
        return tools.compile_sql(project.current(), kpis, dialect=dialect, grain=grain, by=by, where=where,
                                 start=start, end=end, timezone=timezone)

    return server


def serve(root: Path, *, max_rows: int = DEFAULT_MAX_ROWS) -> None:
    """Serve the project at ``root`` on stdin/stdout until the client closes stdin."""
    project = LiveProject(root)
    create_server(project, max_rows=max_rows, lifespan=_loaded_first(project)).run("stdio")


def _loaded_first(project: LiveProject) -> Callable[[MCPServer], AbstractAsyncContextManager[None]]:
    """A lifespan that loads the project as the server starts, so the first call is quick; an error in it
    is printed to stderr (the client's log) and is every tool's answer until the files are fixed.

    It runs once the transport holds stdout: a plugin that prints while the project loads cannot
    write into the protocol's channel.
    """

    @asynccontextmanager
    async def lifespan(server: MCPServer) -> AsyncIterator[None]:
        try:
            loaded = project.current()
        except KpiError as error:
            print(f"kpi mcp: the project at {project.root} does not load; every tool answers with:\n"
                  f"{error.render()}", file=sys.stderr)
        else:
            print(f"kpi mcp: serving {loaded.name} ({len(loaded.kpis)} KPIs, {project.root}) on stdio",
                  file=sys.stderr)
        yield

    return lifespan
