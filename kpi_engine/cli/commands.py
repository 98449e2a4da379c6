"""The ``kpi`` command (SPEC §6.1).

Exit status: 0 ok; 1 an error in the definitions or the query; 2 bad
command-line usage; 3 the data source failed (or ``kpi check`` could not deliver
its summary); 4 ``kpi check`` found a KPI at or beyond --fail-on. Errors are printed once, with
file:line:col and the offending line, never as a traceback. Heavy modules
(sqlglot, duckdb, pydantic, lark) are imported inside the commands, so
``kpi --help`` answers at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..compiler.periods import GRAINS
from .output import render_result

if TYPE_CHECKING:
    from ..project import Project


class DateParam(click.ParamType):
    """A YYYY-MM-DD date; anything else is a usage error (exit 2)."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"'{value}' is not a date; write it as YYYY-MM-DD", param, ctx)


class ZoneParam(click.ParamType):
    """An IANA time zone name; an unknown one is a usage error (exit 2) with a did-you-mean."""

    name = "TZ"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from ..timezones import check_zone

        text = str(value).strip()
        problem = check_zone(text)
        if problem is not None:
            self.fail(problem, param, ctx)
        return text


def _fail(error: Exception) -> None:
    from ..errors import KpiError

    assert isinstance(error, KpiError)
    click.echo(error.render(), err=True)
    count = len(error.errors)
    if count > 1:
        click.echo(f"\n{count} errors", err=True)
    sys.exit(error.exit_code)


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Every KpiError becomes its message and exit code; nothing else is caught here."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ..errors import KpiError

        try:
            return command(*args, **kwargs)
        except KpiError as error:
            _fail(error)
        except KeyboardInterrupt:  # pragma: no cover - interactive
            click.echo("interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:  # pragma: no cover - e.g. `kpi run ... | head`
            sys.exit(0)

    return wrapper


def _project_dir(ctx: click.Context) -> Path:
    from ..project import find_project

    given = ctx.obj.get("project") if ctx.obj else None
    return Path(given) if given else find_project(Path.cwd())


def load_project(ctx: click.Context) -> Project:
    from ..project import load

    return load(_project_dir(ctx))


def query_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--grain", type=click.Choice(GRAINS, case_sensitive=False), default="month", show_default=True,
                     help="Period size."),
        click.option("--by", "by", multiple=True, metavar="DIM", help="Dimension to break down by (repeatable)."),
        click.option("--where", metavar="EXPR", help="Condition over dimensions, e.g. \"channel = 'email'\"."),
        click.option("--from", "start", type=DateParam(), help="First day (inclusive)."),
        click.option("--to", "end", type=DateParam(), help="Last day (inclusive)."),
        click.option("--timezone", type=ZoneParam(), default=None, metavar="TZ",
                     help="Cut periods in this IANA zone instead of the calendar's, e.g. America/Sao_Paulo."),
    ]
    for option in reversed(options):
        command = option(command)

    @functools.wraps(command)
    def checked(*args: Any, **kwargs: Any) -> Any:
        by = kwargs.get("by") or ()
        # --from after --to is a query error (status 1), raised by the query as in Python
        if len(set(by)) != len(by):
            raise click.BadParameter("a dimension is named twice", param_hint="'--by'")
        return command(*args, **kwargs)

    return checked


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--project", type=click.Path(exists=True, file_okay=True, dir_okay=True), metavar="DIR",
              help="Project folder (default: the nearest folder with a kpi.yml, else the current one).")
@click.version_option(__version__, prog_name="kpi")
@click.pass_context
def main(ctx: click.Context, project: str | None) -> None:
    """Declarative KPIs: YAML definitions, compiled to SQL, run on your data."""
    ctx.ensure_object(dict)
    ctx.obj["project"] = project


@main.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include hidden helper KPIs.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handle_errors
def list_command(ctx: click.Context, show_all: bool, fmt: str) -> None:
    """List the project's KPIs."""
    project = load_project(ctx)
    kpis = [k for k in project.kpis.values() if show_all or not k.hidden]
    if fmt == "json":
        click.echo(json.dumps([_kpi_json(k, project) for k in kpis], indent=2, ensure_ascii=False))
        return
    from ..formatting import format_value, render_table

    rows = []
    for kpi in kpis:
        target = format_value(kpi.target, kpi) if kpi.target is not None else ""
        rows.append([kpi.name, kpi.display_title, kpi.format, kpi.direction, target,
                     project.catalog.kpis[kpi.name].model.dataset or ""])
    click.echo(render_table(["name", "title", "format", "direction", "target", "dataset"], rows))


def _kpi_json(kpi: Any, project: Project) -> dict[str, Any]:
    data = kpi.model_dump(mode="json", by_alias=True)
    return {"name": kpi.name, **data, "title": kpi.display_title}


@main.command()
@click.argument("kpis", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handle_errors
def dimensions(ctx: click.Context, kpis: tuple[str, ...], fmt: str) -> None:
    """List the dimensions a query may break down by (--by) or filter on (--where): with KPIs, only
    those that apply to one of them."""
    project = load_project(ctx)
    found = project.dimensions(list(kpis) if kpis else None)
    if fmt == "json":
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    import textwrap

    from ..formatting import render_table

    rows = []
    for dimension in found:  # a long list of KPIs goes on over the next lines, under its column
        lines = textwrap.wrap(", ".join(dimension["kpis"]), 60, break_on_hyphens=False) or [""]
        rows.append([dimension["name"], ", ".join(dimension["datasets"]), lines[0]])
        rows += [["", "", line] for line in lines[1:]]
    click.echo(render_table(["dimension", "datasets", "kpis"], rows))


@main.command("mcp")
@click.option("--max-rows", type=click.IntRange(min=1), default=1000, show_default=True,
              help="The most rows the query tool answers with; a larger result is an error asking to narrow it.")
@click.pass_context
@handle_errors
def mcp_command(ctx: click.Context, max_rows: int) -> None:
    """Serve the project to AI assistants over the Model Context Protocol, on stdin/stdout."""
    from ..mcp import sdk_problem

    problem = sdk_problem()
    if problem is not None:  # a missing optional extra: the command cannot be used here, as an unknown one
        click.echo(problem, err=True)
        sys.exit(2)
    from ..mcp.server import serve

    serve(_project_dir(ctx), max_rows=max_rows)


@main.command()
@click.option("--no-source", is_flag=True, help="Check the definitions only, not the columns in the live source.")
@click.pass_context
@handle_errors
def validate(ctx: click.Context, no_source: bool) -> None:
    """Check every definition (and every column against the live source)."""
    project = load_project(ctx)
    counts = project.validate(check_source=not no_source)
    where = "" if no_source else "; every column found in the source"
    click.echo(f"ok: {_count(counts['kpis'], 'KPI')} and {_count(counts['datasets'], 'dataset')}{where}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@main.command("compile")
@click.argument("kpis", nargs=-1, required=True)
@click.option("--dialect", metavar="NAME", help="SQL dialect (default: the source's), e.g. snowflake, bigquery.")
@query_options
@click.pass_context
@handle_errors
def compile_command(ctx: click.Context, kpis: tuple[str, ...], dialect: str | None, grain: str, by: tuple[str, ...],
                    where: str | None, start: dt.date | None, end: dt.date | None, timezone: str | None) -> None:
    """Print the SQL of a query."""
    if dialect is not None:
        _check_dialect(dialect)
    project = load_project(ctx)
    click.echo(project.compile(list(kpis), dialect=dialect, grain=grain, by=by, where=where, start=start, end=end,
                               timezone=timezone))


def _check_dialect(name: str) -> None:
    from ..compiler.dialects import check_tested

    problem = check_tested(name)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="'--dialect'")


@main.command()
@click.argument("kpis", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Every KPI that is not hidden.")
@query_options
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--status", is_flag=True, help="Add KPI__status (ok / warn / bad) after each KPI with a target.")
@click.pass_context
@handle_errors
def run(ctx: click.Context, kpis: tuple[str, ...], run_all: bool, grain: str, by: tuple[str, ...],
        where: str | None, start: dt.date | None, end: dt.date | None, timezone: str | None, fmt: str,
        status: bool) -> None:
    """Compute KPIs."""
    if run_all and kpis:
        raise click.UsageError("give KPI names or --all, not both")
    if not run_all and not kpis:
        raise click.UsageError("name at least one KPI, or use --all")
    project = load_project(ctx)
    names = [k.name for k in project.kpis.values() if not k.hidden] if run_all else list(kpis)
    if not names:
        raise click.UsageError("--all: the project has no KPI that is not hidden; name a hidden KPI to run it")
    from ..compiler.query import Query

    query = Query.create(names, grain=grain, by=by, where=where, start=start, end=end, timezone=timezone)
    result = project.query(query.kpis, grain=grain, by=by, where=where, start=start, end=end, timezone=timezone)
    shown = result.with_status() if status else result
    click.echo(render_result(shown, fmt))
    from .cached_run import remember

    remember(project, ctx.obj.get("argv"), result, query)  # set by the kpi executable (``entry``) only


def _webhook(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--notify takes an http(s) URL; anything else is a usage error (exit 2), before any query runs."""
    if value is None:
        return None
    from ..check import check_url

    problem = check_url(value)
    if problem is not None:
        raise click.BadParameter(problem, ctx, param)
    return value


@main.command()
@click.argument("kpis", nargs=-1)
@click.option("--tag", metavar="T", help="Check the KPIs with this tag (that have a target).")
@click.option("--fail-on", type=click.Choice(["warn", "bad"]), default="bad", show_default=True,
              help="Exit with status 4 when a KPI's status is this or worse.")
@click.option("--notify", "notify_url", metavar="URL", callback=_webhook,
              help="POST the summary as JSON to this http(s) URL (a Slack incoming webhook, for one).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
@handle_errors
def check(ctx: click.Context, kpis: tuple[str, ...], tag: str | None, fail_on: str, notify_url: str | None,
          fmt: str) -> None:
    """Judge KPIs against their targets in their last complete month (for cron and CI).

    Every KPI with a target by default. Exit status 4 when one is at or beyond --fail-on, 3 when the
    summary could not be delivered (--notify or a notifier plugin), after it is printed.
    """
    if tag is not None and kpis:
        raise click.UsageError("give KPI names or --tag, not both")
    from ..check import NothingToCheck, deliver, evaluate, render, select, summary, worst
    from ..errors import raise_all

    project = load_project(ctx)
    try:
        names = select(project, kpis, tag)
    except NothingToCheck as problem:
        raise click.UsageError(str(problem)) from None
    checked = evaluate(project, names)
    found = summary(project.name, checked)
    click.echo(json.dumps(found, indent=2, ensure_ascii=False) if fmt == "json" else render(checked))
    failures = deliver(found, project, notify_url)
    failing = worst(checked, fail_on)
    if failing:
        click.echo(f"{_count(len(failing), 'KPI')} at or beyond {fail_on}: {', '.join(failing)}", err=True)
    raise_all(failures)  # a failed delivery: exit 3, whatever the statuses
    if failing:
        sys.exit(4)


@main.command()
@click.argument("kpis", nargs=-1)
@click.option("--tag", metavar="T", help="Only the KPIs with this tag.")
@query_options
@click.option("--out", "out", type=click.Path(dir_okay=False, writable=True), default="report.html",
              show_default=True, metavar="FILE.html", help="The HTML file to write.")
@click.pass_context
@handle_errors
def report(ctx: click.Context, kpis: tuple[str, ...], tag: str | None, grain: str, by: tuple[str, ...],
           where: str | None, start: dt.date | None, end: dt.date | None, timezone: str | None, out: str) -> None:
    """Write a self-contained HTML report: a scorecard of tiles, then a chart and the details of each KPI."""
    if kpis and tag is not None:
        raise click.UsageError("give KPI names or --tag, not both")
    path = Path(out)
    if not path.parent.is_dir():
        raise click.BadParameter(f"the folder {path.parent} does not exist", param_hint="'--out'")
    project = load_project(ctx)
    from ..report.gather import gather, select_kpis
    from ..report.page import render_report, write_atomically

    names = select_kpis(project, kpis, tag)
    page = render_report(gather(project, names, grain=grain, by=by, where=where, start=start, end=end,
                                timezone=timezone))
    try:
        write_atomically(path, page)
    except OSError as error:
        raise click.FileError(str(path), hint=error.strerror or str(error)) from error
    click.echo(f"wrote {path} ({_count(len(names), 'KPI')})")


@main.command()
@click.option("--rows", type=click.IntRange(min=1), default=None, help="Number of tickets (default 100,000).")
@click.pass_context
@handle_errors
def demo(ctx: click.Context, rows: int | None) -> None:
    """Write the demo help-desk data and run the KPI library on it."""
    from ..demo.command import run_demo

    given = ctx.obj.get("project") if ctx.obj else None
    run_demo(Path(given) if given else Path.cwd(), rows, echo=click.echo)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; beyond loopback only with serve.tokens in kpi.yml.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.pass_context
@handle_errors
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (JSON; its OpenAPI document at /openapi.json)."""
    try:
        import fastapi  # noqa: F401 - only whether the serve extra is installed
        import uvicorn  # noqa: F401
    except ImportError as missing:  # as kpi mcp without its extra: one line, exit 2
        click.echo(f"error[missing-extra]: kpi serve needs FastAPI and uvicorn ({missing.name or 'one of them'} is "
                   "not installed): pip install 'kpi-engine[serve]'", err=True)
        sys.exit(2)
    from ..http.serving import check_host, run as run_server

    project = load_project(ctx)
    problem = check_host(host, project.config.serve.tokens)
    if problem is not None:
        raise click.UsageError(problem)
    run_server(project, host=host, port=port, workers=workers)


@main.command()
@click.argument("which", type=click.Choice(["all", "definitions", "project"]), default="all")
@handle_errors
def schema(which: str) -> None:
    """Print the JSON Schema of definition files and kpi.yml (for editor completion)."""
    from .schema import json_schema

    click.echo(json.dumps(json_schema(which), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
