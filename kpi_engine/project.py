"""A project folder, loaded and checked: the Python API of SPEC §6.2.

``load()`` reads kpi.yml, the plugins, the sources and every definition file,
and checks every formula, reference and option before returning; a Project
that exists is a project without definition errors. Queries compile to the
dialect of the source they read and run on one connection per thread, so a
Project can be queried from several threads at once.

Where the data lives (connectors, connections, each dataset's FROM, and which
source a query reads) is ``sources.registry.Sources``; a Project delegates to it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import threading
from dataclasses import dataclass
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .formulas.binder import Binder, atoms_of
from .definitions.catalog import Catalog
from .compiler import QueryCompiler
from .compiler.plan import CompiledQuery
from .compiler.dialects import check_tested, dialect_for
from .compiler.query import Query
from .sources.base import Connection, Connector
from .sources.registry import Sources
from .sources.timeouts import Deadline, execute_within
from .definitions.files import definition_files, load_definitions, validate_model
from .errors import DefinitionError, KpiError, QueryError, SourceError, Span, raise_all, unknown
from .definitions.loader import YamlDocument, display_path, load_yaml_file
from .definitions.discovery import PROJECT_FILE, find_project
from .definitions.model import Dataset, Kpi, ProjectConfig
from .plugins import PluginRegistry, get_plugin_manager
from .result import Result
from .timezones import zone
from .compiler.periods import Calendar
from .sources.rows import with_booleans
from .definitions.validation import validate_catalog, validate_serve
from .formulas import syntax

__all__ = ["PROJECT_FILE", "Project", "find_project", "load"]


def load(path: str | os.PathLike[str] = ".", *, environ: Mapping[str, str] | None = None,
         entry_points: bool = True) -> Project:
    """Load and check the project at ``path`` (a folder, or its kpi.yml)."""
    root = Path(path).expanduser()
    if root.is_file():
        config_path, root = root, root.parent
    else:
        if not root.is_dir():
            raise DefinitionError(f"project folder '{path}' does not exist", code="no-project")
        config_path = root / PROJECT_FILE
    root = root.resolve()
    document: YamlDocument | None = None
    config = ProjectConfig()
    if config_path.is_file():
        document = load_yaml_file(config_path, environ=environ)
        config, problems = validate_model(ProjectConfig, document)
        raise_all(problems)
    local_plugins = [(root / p, document.span_at(("plugins", i)) if document else None)
                     for i, p in enumerate(config.plugins)]
    registry = PluginRegistry(get_plugin_manager(local_plugins, entry_points=entry_points))
    catalog = Catalog(functions=registry.functions)
    sources, errors = Sources.from_config(config, document, registry, root, catalog)
    files, missing = definition_files(root, config.definitions, document)
    errors += missing
    errors += load_definitions(files, catalog, environ)
    project = Project(root, config, catalog, sources, registry)
    project.inputs = _Inputs(config_path, files, [p for p, _ in local_plugins], list(config.definitions),
                             {**catalog.variables, **(document.variables if document else {})})
    errors += project._check()
    if document is not None:
        errors += validate_serve(config.serve, document, catalog, functools.partial(_condition_names, project.binder, document))
    raise_all(_in_file_order(errors, files))
    return project


@dataclass(frozen=True)
class _Inputs:
    """Everything a project's compiled SQL depends on, for the command's compile cache."""

    config: Path  # kpi.yml, which may not exist
    files: list[Path]  # the definition files read
    plugins: list[Path]
    definitions: list[str]  # the definitions: entries the files were found from
    variables: dict[str, str | None]


def _condition_names(binder: Binder, document: YamlDocument, path: tuple, text: str) -> list[tuple[str, Span]]:
    """The names a row condition written in kpi.yml (a token's ``where``) reads, each with its place."""
    formula = syntax.FormulaText(text, document.text_map(path, text), "access filter")
    node = binder.bind_where(formula, ())
    return [(n.name, formula.span(n)) for n in syntax.walk(node) if isinstance(n, syntax.Ref)]


def _in_file_order(errors: list[KpiError], files: list[Path]) -> list[KpiError]:
    """kpi.yml first, then each definition file in reading order, each from top to bottom."""
    order = {display_path(path): i for i, path in enumerate(files)}

    def key(error: KpiError) -> tuple:
        file = error.file
        rank = -1 if file is None or file.endswith(PROJECT_FILE) else order.get(file, len(order))
        return (rank, error.line or 0, error.column or 0)

    return sorted(errors, key=key)


def _naive_time(value: Any) -> dt.datetime | None:
    """A naive time as a connection gives it (ISO text, ``rows.normalise_value``); None for anything else (no
    rows: NULL)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is None else None
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is None else None


def _merge(parts: list[tuple[Result, tuple]], query: Query) -> Result:
    """Results of one query per source, joined on (period, dimensions).

    Each part comes with the values its KPIs take over no rows; a (period, dimensions) that one
    source has and another lacks gets those values (0 for a count, null for a ratio), as a query
    on one source gives them.
    """
    first = parts[0][0]
    keys = len(first.columns) - len(first.kpis)
    rows: dict[tuple, dict[str, Any]] = {}
    for result, _ in parts:
        for row in result.rows:
            rows.setdefault(tuple(row[:keys]), {}).update(zip(result.columns[keys:], row[keys:]))
    for result, empty in parts:
        filler = dict(zip(result.columns[keys:], empty))
        for values in rows.values():
            for name, value in filler.items():
                values.setdefault(name, value)
    columns = first.columns[:keys] + list(query.kpis)
    merged = [key + tuple(values[k] for k in query.kpis) for key, values in rows.items()]
    kpis = {k: v for result, _ in parts for k, v in result.kpis.items()}
    sql = "\n;\n".join(result.sql for result, _ in parts)
    result = Result(columns, merged, sql, kpis, first.dimensions, first.grain).sorted()
    return dataclasses.replace(result, partial_periods=first.partial_periods)


#: How many compiled queries a Project keeps (each is about 0.1 MB: a server answering ever-new queries
#: must not grow without bound).
COMPILED_QUERIES = 512
#: The times whose zone offsets are known at compile time (``dialects.offset_changes`` scans 1900-2100): a range
#: of rows' times beyond them is converted row by row, as if not measured.
KNOWN_OFFSETS = (dt.datetime(1901, 1, 1), dt.datetime(2099, 1, 1))


class Project:
    """A loaded, checked project. Build it with :func:`load`.

    Its sources (connectors, connections, relations, which source a query reads) are
    :attr:`sources`, a :class:`~kpi_engine.sources.registry.Sources`; the methods below that
    touch them delegate to it.
    """

    def __init__(self, root: Path, config: ProjectConfig, catalog: Catalog,
                 sources: Sources | Mapping[str, Connector], registry: PluginRegistry) -> None:
        self.root = root
        self.config = config
        self.catalog = catalog
        if not isinstance(sources, Sources):  # a mapping of connectors, as before there was Sources
            sources = Sources(sources, catalog, configured=config.sources)
        self.sources = sources
        self.registry = registry
        self.binder = Binder(catalog)
        self._lock = threading.RLock()
        self._compiled: dict[tuple, CompiledQuery] = {}
        self.inputs: _Inputs | None = None

    # ------------------------------------------------------------- metadata
    @property
    def name(self) -> str:
        return self.config.name or self.root.name

    @property
    def connectors(self) -> dict[str, Connector]:
        """Source name → its connector (kpi.yml's ``sources:``, and the default source)."""
        return self.sources.connectors

    @property
    def kpis(self) -> dict[str, Kpi]:
        return {name: entry.model for name, entry in self.catalog.kpis.items()}

    @property
    def datasets(self) -> dict[str, Dataset]:
        return {name: entry.model for name, entry in self.catalog.datasets.items()}

    def kpi(self, name: str) -> Kpi:
        if name not in self.catalog.kpis:
            raise QueryError(unknown("KPI", name, self.catalog.kpis), code="unknown-kpi")
        return self.catalog.kpis[name].model

    def source_of(self, kpi: str) -> str:
        """The source a KPI reads (that of its first aggregate's dataset; "default" for constants)."""
        self.kpi(kpi)  # an unknown name: a QueryError with a suggestion
        return self.sources.source_of_kpis(self.binder, [kpi])

    def dimensions(self, kpis: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Each dimension: the datasets that define it and the KPIs a query may break down by it (those
        whose every dataset defines it), sorted by name. With ``kpis``, only those KPIs are considered
        (and only the dimensions that apply to one of them are listed)."""
        names = list(self.catalog.kpis) if kpis is None else list(dict.fromkeys(kpis))
        for name in names:
            self.kpi(name)  # an unknown name is an error with a suggestion
        datasets = self.catalog.datasets
        read = {name: self.binder.datasets_of(name) for name in names}
        out = []
        for dimension in sorted({d for entry in datasets.values() for d in entry.model.dimensions}):
            defined = sorted(ds for ds, entry in datasets.items() if dimension in entry.model.dimensions)
            usable = [k for k in names if read[k] and all(ds in defined for ds in read[k])]
            if kpis is not None and not usable:
                continue
            out.append({"name": dimension, "datasets": defined, "kpis": usable})
        return out

    def describe(self, name: str) -> dict[str, Any]:
        """A KPI's metadata as the HTTP API and the MCP server give it: its definition's fields, the
        dimensions a query of it may use, its formula and filter, and the KPIs it uses directly."""
        kpi = self.kpi(name)
        data = kpi.model_dump(mode="json", by_alias=True)
        read = self.binder.datasets_of(name)
        dimensions = [d["name"] for d in self.dimensions([name])] if read else []
        return {"name": name, "title": kpi.display_title, "description": kpi.description, "format": kpi.format,
                "unit": kpi.unit, "decimals": kpi.decimals, "direction": kpi.direction, "target": kpi.target,
                "warning": kpi.warning, "owner": kpi.owner, "tags": list(kpi.tags), "hidden": kpi.hidden,
                "dataset": kpi.dataset, "dimensions": dimensions, "formula": data["formula"],
                "filter": data.get("filter"), "uses": self.binder.uses(name)}

    # -------------------------------------------------------------- queries
    def compile(self, kpis: Iterable[str] | str, *, dialect: str | None = None, grain: str = "month",
                by: Iterable[str] | str | None = (), where: str | None = None, start: Any = None,
                end: Any = None, filters: Iterable[str] = (), timezone: str | None = None) -> str:
        """The SQL of a query, in ``dialect`` (default: the dialect of the source it reads)."""
        query = Query.create(kpis, grain=grain, by=by, where=where, start=start, end=end, filters=filters,
                             timezone=timezone)
        return self.compiled(query, dialect).sql

    def query(self, kpis: Iterable[str] | str, *, grain: str = "month", by: Iterable[str] | str | None = (),
              where: str | None = None, start: Any = None, end: Any = None, filters: Iterable[str] = (),
              timeout: float | None = None, timezone: str | None = None) -> Result:
        """Run a query; rows ordered by period, then dimensions (nulls last).

        KPIs of different sources run as one query per source, merged on the period and dimensions.
        ``filters`` are row conditions over dimensions forced onto every dataset the query reads
        (row-level access: no ``where`` can widen them); a dataset without one of their dimensions
        makes the query a ``ForbiddenError``. ``timeout`` limits the whole query to that many seconds:
        past it, the statement running is stopped on the engine and a ``QueryTimeoutError`` raised
        (``sources.timeouts``). ``timezone`` cuts the periods in that zone instead of the calendar's.
        """
        deadline = Deadline.after(timeout)
        query = Query.create(kpis, grain=grain, by=by, where=where, start=start, end=end, filters=filters,
                             timezone=timezone)
        groups = self.sources.by_source(self.binder, query.kpis)
        if len(groups) <= 1:
            return self._run(query, deadline)
        return self._run_several(query, [tuple(names) for names in groups.values()], deadline)

    def _run_several(self, query: Query, groups: list[tuple[str, ...]], deadline: Deadline | None = None) -> Result:
        """One query per source, over the same periods: a missing --from/--to is the earliest (latest)
        period with rows in any of them."""
        results = [self._run(dataclasses.replace(query, kpis=names), deadline) for names in groups]
        if query.grain != "all" and (query.start is None or query.end is None):
            ranges = [(r.rows[0][0], r.rows[-1][0]) for r in results if r.rows]
            if ranges:
                lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
                bounded = dataclasses.replace(query, start=query.start or dt.date.fromisoformat(lo),
                                              end=query.end or dt.date.fromisoformat(hi))
                results = [r if r.rows and (r.rows[0][0], r.rows[-1][0]) == (lo, hi)
                           else self._run(dataclasses.replace(bounded, kpis=names), deadline)
                           for r, names in zip(results, groups)]
        parts = [(r, self._empty_values(dataclasses.replace(query, kpis=names), deadline))
                 for r, names in zip(results, groups)]
        return _merge(parts, query)

    def _empty_values(self, query: Query, deadline: Deadline | None = None) -> tuple:
        """The values of the query's KPIs over no rows, computed by their own engine."""
        compiled = self.compiled(query)
        connection, (_, rows) = self._execute(self._source_of_query(query), compiled.empty_sql, deadline)
        offset = len(compiled.columns) - len(compiled.kpis)
        return with_booleans(rows, [i - offset for i in self.boolean_positions(compiled, connection)])[0]

    def _execute(self, source: str, sql: str, deadline: Deadline | None) -> tuple[Connection, tuple[list, list]]:
        """This thread's connection to ``source`` and what ``sql`` gives on it, within the query's deadline."""
        connection = self.connection(source)
        forget = functools.partial(self.sources.forget, source, connection)
        return connection, execute_within(connection, sql, deadline, forget)

    def _run(self, query: Query, deadline: Deadline | None = None) -> Result:
        compiled = self.compiled(query)
        source = self._source_of_query(query)
        try:
            if compiled.extent_sql is not None and self.connection(source).snapshots:
                connection, compiled, rows = self._run_in_extents(source, query, compiled, deadline)
            else:
                connection, (_, rows) = self._execute(source, compiled.sql, deadline)
        except SourceError:
            self._explain_failure(compiled)
            raise
        rows = with_booleans(rows, self.boolean_positions(compiled, connection))
        kpis_meta = {name: self.catalog.kpis[name].model for name in compiled.kpis}
        result = Result(list(compiled.columns), rows, compiled.sql, kpis_meta, compiled.dimensions, compiled.grain)
        calendar = self.calendar_of(query)
        return result.sorted().marked_partial(self.today(calendar.timezone), calendar)

    def _run_in_extents(self, source: str, query: Query, compiled: CompiledQuery,
                        deadline: Deadline | None) -> tuple[Connection, CompiledQuery, list]:
        """A query whose periods a zone's offsets cut, over a range of times not known before: in one snapshot,
        the range of its rows' times (a MIN and MAX the engine often answers from its statistics), then the
        query cut with the offsets of that range only (on 1M rows in a zone without DST since 2019: the cost of
        the UTC query, where the offsets of fifty years cost three times it). The range is kept while the
        source stays open where no one can change its data meanwhile (a DuckDB file): measured once."""
        kept = self.connection(source).connector.while_open()
        key = ("extents", compiled.extent_sql)
        if kept is not None and key in kept:
            return self._run_measured(source, query, compiled, kept[key], deadline)
        with self.connection(source).snapshot():
            extents = self._measure(source, compiled, deadline)
            if kept is not None:
                kept[key] = extents
            return self._run_measured(source, query, compiled, extents, deadline)

    def _measure(self, source: str, compiled: CompiledQuery, deadline: Deadline | None) -> tuple:
        """(dataset, column, first time, just after the last) of each column the extent SQL measures, where its
        rows have times, all within the offsets known at compile time."""
        _, found = self._execute(source, compiled.extent_sql or "", deadline)[1]
        values = [_naive_time(value) for value in (found[0] if found else ())]
        return tuple((dataset, column, first, last + dt.timedelta(microseconds=1))
                     for (dataset, column), first, last in zip(compiled.extent_keys, values[::2], values[1::2])
                     if first is not None and last is not None
                     and KNOWN_OFFSETS[0] <= first and last < KNOWN_OFFSETS[1])

    def _run_measured(self, source: str, query: Query, compiled: CompiledQuery, extents: tuple,
                      deadline: Deadline | None) -> tuple[Connection, CompiledQuery, list]:
        if extents:
            compiled = self.compiled(dataclasses.replace(query, extents=extents))
        connection, (_, rows) = self._execute(source, compiled.sql, deadline)
        return connection, compiled, rows

    def today(self, timezone: str | None = None) -> dt.date:
        """The local day the current instant falls on (in the calendar's zone): its period is still in
        progress (partial)."""
        return dt.datetime.now(zone(timezone or self.calendar.timezone)).date()

    @property
    def calendar(self) -> Calendar:
        """How periods are cut: kpi.yml's ``calendar:`` (UTC, weeks from Monday, fiscal year from January)."""
        config = self.config.calendar
        return Calendar(config.timezone, config.week_start, config.fiscal_year_start)

    def calendar_of(self, query: Query) -> Calendar:
        """The project's calendar, in the query's time zone when it names one."""
        return self.calendar if query.timezone is None else dataclasses.replace(self.calendar, timezone=query.timezone)

    def boolean_positions(self, compiled: CompiledQuery, connection: Connection) -> list[int]:
        """The result columns to turn from 0/1 into false/true, on an engine without booleans."""
        if not connection.connector.booleans_as_integers:
            return []
        datasets = self.catalog.datasets

        def declared(dataset: str, column: str) -> bool:
            table_name = datasets[dataset].model.table
            return table_name is not None and connection.declares_boolean(table_name, column)

        return [compiled.columns.index(name) for name, kind in compiled.booleans
                if kind is True or all(declared(ds, column) for ds, column in kind)]

    def compiled(self, query: Query, dialect: str | None = None) -> CompiledQuery:
        """A query compiled for the source it reads (or for ``dialect``), kept among the last
        ``COMPILED_QUERIES`` compiled."""
        key = (query, dialect)
        cached = self._compiled.get(key)
        if cached is not None:
            return cached
        with self._lock:
            if dialect is not None and (problem := check_tested(dialect)) is not None:
                raise QueryError(problem, code="dialect")
            target = dialect_for(dialect) if dialect else self.sources.dialect(self._source_of_query(query))
            compiler = QueryCompiler(self.catalog, self.binder, target, self.sources.relation, self.sources.source_of,
                                     calendar=self.calendar, time_kind=self.sources.time_kind)
            compiled = compiler.compile(query)
            self._compiled[key] = compiled
            if len(self._compiled) > COMPILED_QUERIES:  # a server sees ever-new queries: the oldest goes
                self._compiled.pop(next(iter(self._compiled)))
            return compiled

    def _source_of_query(self, query: Query) -> str:
        return self.sources.source_of_kpis(self.binder, query.kpis)

    # ---------------------------------------------------------- connections
    def connection(self, source: str = "default") -> Connection:
        """This thread's connection to a source (opened on first use)."""
        return self.sources.connection(source)

    def close(self) -> None:
        """Close every connection; the project stays usable and opens new ones when queried."""
        self.sources.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ validation
    def _check(self) -> list[KpiError]:
        """Every definition rule, before any SQL runs."""
        return self.sources.dataset_errors() + validate_catalog(self.catalog, self.binder)

    def validate(self, *, check_source: bool = True) -> dict[str, int]:
        """Check the definitions (already done by load) and, with ``check_source``, every column
        they read against the live sources; raise every problem at once."""
        raise_all(self._check())
        if check_source:
            raise_all(self._live_errors(list(self.catalog.datasets)))
        return {"kpis": len(self.catalog.kpis), "datasets": len(self.catalog.datasets)}

    def _explain_failure(self, compiled: CompiledQuery) -> None:
        """After a failed query, a precise definition error if a column is at fault."""
        datasets: set[str] = set()
        for name in compiled.kpis:
            for atom in atoms_of(self.binder.metric(name)):
                datasets.add(atom.dataset)
                datasets.update(j.dataset for j in self.catalog.datasets[atom.dataset].model.joins.values())
        try:
            errors = self._live_errors(sorted(datasets))
        except KpiError:
            return
        raise_all(errors)

    def _live_errors(self, datasets: list[str]) -> list[KpiError]:
        from .sources.live_checks import live_errors

        return live_errors(self.sources, self.binder, datasets)
