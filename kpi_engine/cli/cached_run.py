"""The command's compile cache: ``kpi run`` answers as fast as Python and the database allow.

A normal run loads YAML, checks every definition (pydantic, Lark) and writes
SQL (sqlglot): a few hundred milliseconds of imports before the query. When
it succeeds, :func:`remember` stores the SQL with everything it depends on:
the exact command line, the project folder, the contents (SHA-256) of kpi.yml,
of every definition and local plugin file and of kpi_engine's own sources, the
list of definition files, and the values of the environment variables the files
read. Contents, not sizes and times: an edit copied in with ``cp -p`` keeps both.
:func:`run_cached` then answers the same command, if none of that changed, with
only the database driver imported: it opens the source with the connector's own
opening function (``sources.opening``) and converts the rows as the connector
does, so it never answers differently from an uncached run. Anything unexpected
makes it return False, and the normal path runs (and reports any error with its
position).

Set ``KPI_ENGINE_NO_CACHE=1`` to turn it off; ``KPI_ENGINE_CACHE_DIR`` moves it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..sources.opening import OPENERS

if TYPE_CHECKING:
    from ..compiler.query import Query
    from ..project import Project
    from ..result import Result

__all__ = ["remember", "run_cached"]

_BUILTIN_PLUGINS = {"kpi_engine.duckdb", "kpi_engine.sqlite"}


def _cache_dir() -> Path | None:
    if os.environ.get("KPI_ENGINE_NO_CACHE"):
        return None
    given = os.environ.get("KPI_ENGINE_CACHE_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kpi_engine"


def _split(argv: list[str]) -> tuple[str | None, list[str]] | None:
    """(--project value, the rest) when the command is ``run``; else None."""
    project = None
    rest = list(argv)
    if rest and rest[0] == "--project" and len(rest) > 1:
        project, rest = rest[1], rest[2:]
    elif rest and rest[0].startswith("--project="):
        project, rest = rest[0].split("=", 1)[1], rest[1:]
    if not rest or rest[0] != "run" or any(a in ("-h", "--help") for a in rest):
        return None
    return project, rest


def _entry_path(argv: list[str]) -> tuple[Path, Path] | None:
    """(project root, cache file) for this command line."""
    from ..definitions.discovery import find_project

    split = _split(argv)
    directory = _cache_dir()
    if split is None or directory is None:
        return None
    project, rest = split
    root = Path(project).resolve() if project else find_project(Path.cwd())
    key = json.dumps([__version__, sys.version, str(root), rest])
    return root, directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")


def _digest(path: Path) -> str | None:
    """The SHA-256 of a file's contents; None when it does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _code_fingerprint() -> str:
    """kpi_engine's own sources: an upgrade or an edit invalidates every entry."""
    package = Path(__file__).resolve().parents[1]  # kpi_engine/
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(package)):
        for name in sorted(files):
            if name.endswith((".py", ".lark")):
                digest.update(f"{folder}/{name}\0".encode())
                digest.update((Path(folder) / name).read_bytes())
    return digest.hexdigest()


def remember(project: Project, argv: list[str] | None, result: Result, query: Query) -> None:
    """Store a successful run of ``query`` for :func:`run_cached` (quietly does nothing when it cannot).

    ``argv`` is the command line the executable was given (``entry.main`` passes it to the click
    commands); None when the commands were driven otherwise, and then nothing is stored.
    """
    if argv is None or project.inputs is None:
        return
    located = _entry_path(argv)
    if located is None:
        return
    root, path = located
    groups = project.sources.by_source(project.binder, result.kpis)
    if len(groups) != 1:
        return  # one query per source, merged: not one SQL text to replay
    (source,) = groups
    connector = project.sources.connectors.get(source)
    if connector is None or connector.name not in OPENERS or _plugins_may_change_sql(project):
        return  # plugins may do anything; only the built-in connectors are opened here
    compiled = project.compiled(query)
    if compiled.sql != result.sql:
        return
    connection = project.sources.connection(source)
    inputs = project.inputs
    files = [inputs.config.resolve(), *inputs.files, *inputs.plugins]
    entry = {
        "root": str(root),
        "files": [[str(f), _digest(f)] for f in files],
        "definitions": [str(root), inputs.definitions, [str(f) for f in inputs.files]],
        "variables": inputs.variables,
        "code": _code_fingerprint(),
        "connector": {"name": connector.name, "open": connector.open_arguments(),
                      "schema": _schema_version(connector.name, connection)},
        "sql": result.sql,
        "booleans": project.boolean_positions(compiled, connection),
        "columns": result.columns,
        "kpis": [list(dataclasses.astuple(k.display())) for k in result.kpis.values()],
        "dimensions": list(result.dimensions),
        "grain": result.grain,
        "calendar": dataclasses.asdict(project.calendar_of(query)),
        "format": _option(argv, "--format", "table"),
        "status": "--status" in argv,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entry))
        temporary.replace(path)
    except OSError:
        pass


def _schema_version(connector: str, connection: Any) -> int | None:
    """SQLite's schema version: a changed declared type (BOOLEAN) changes how rows are read."""
    if connector != "sqlite":
        return None
    con = getattr(connection, "_con", connection)
    return con.execute("PRAGMA schema_version").fetchone()[0]


def _option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def _plugins_may_change_sql(project: Project) -> bool:
    """A local plugin module, or an installed plugin that adds functions, may change what a run computes.

    An installed plugin that only adds connectors (kpi-engine-postgres) cannot change a run on the
    built-in duckdb or sqlite connector, so installing one does not turn the cache off for every project.
    """
    pm = project.registry.pm
    for plugin in pm.get_plugins():
        if pm.get_name(plugin) in _BUILTIN_PLUGINS:
            continue
        hooks = {caller.name for caller in pm.get_hookcallers(plugin) or []}
        if str(pm.get_name(plugin)).startswith("local:") or hooks - {"register_connectors"}:
            return True
    return False


def run_cached(argv: list[str]) -> bool:
    """Answer ``kpi run ...`` from the cache; False when the normal path must run."""
    try:
        located = _entry_path(argv)
        if located is None or not located[1].is_file():
            return False
        entry = json.loads(located[1].read_text())
        if not _still_valid(entry):
            return False
        columns, rows = _execute(entry)
    except Exception:
        return False
    from .output import render_result
    from ..compiler.periods import Calendar
    from ..result import Result
    from ..timezones import zone
    from ..status import KpiDisplay

    kpis = {k[0]: KpiDisplay(*k) for k in entry["kpis"]}
    result = Result(columns, rows, entry["sql"], kpis, tuple(entry["dimensions"]), entry["grain"]).sorted()
    calendar = Calendar(**entry["calendar"])
    result = result.marked_partial(dt.datetime.now(zone(calendar.timezone)).date(), calendar)
    if entry["status"]:
        result = result.with_status()
    sys.stdout.write(render_result(result, entry["format"]) + "\n")
    return True


def _still_valid(entry: dict[str, Any]) -> bool:
    from ..definitions.discovery import definition_paths

    for path, digest in entry["files"]:
        if _digest(Path(path)) != digest:
            return False
    root, entries, files = entry["definitions"]
    if [str(f) for f in definition_paths(Path(root), entries)] != files:
        return False  # a definition file was added or removed
    for name, value in entry["variables"].items():
        if os.environ.get(name) != value:
            return False
    return entry["code"] == _code_fingerprint()


def _execute(entry: dict[str, Any]) -> tuple[list[str], list[tuple]]:
    """Run the stored SQL on the source opened as its connector opens it, rows converted as it does."""
    from ..sources.opening import OPENERS
    from ..sources.rows import normalise_value, with_booleans

    connector = entry["connector"]
    con = OPENERS[connector["name"]](**connector["open"])
    try:
        if _schema_version(connector["name"], con) != connector["schema"]:
            raise LookupError("the database's tables changed")
        rows = con.execute(entry["sql"]).fetchall()
    finally:
        con.close()
    rows = [tuple(normalise_value(v) for v in row) for row in rows]
    return list(entry["columns"]), with_booleans(rows, entry["booleans"])
