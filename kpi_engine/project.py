"""A project folder, loaded and checked: the Python API of SPEC §6.2.

``load()`` reads kpi.yml, the plugins, the sources and every definition file,
and checks every formula, reference and option before returning; a Project
that exists is a project without definition errors. Queries compile to the
dialect of the source they read and run on one connection per thread, so a
Project can be queried from several threads at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
from dataclasses import dataclass
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlglot import exp

from .formulas.binder import Binder, atoms_of
from .definitions.catalog import Catalog, DatasetEntry
from .compiler import QueryCompiler
from .compiler.plan import CompiledQuery
from .compiler.dialects import SqlDialect, check_tested, dialect_for
from .compiler.query import Query
from .compiler.sql import table
from .sources.base import Connection, Connector, parse_select
from .definitions.files import definition_files, load_definitions, model_errors, validate_model
from .errors import DefinitionError, KpiError, QueryError, SourceError, raise_all, unknown
from .definitions.loader import YamlDocument, display_path, load_yaml_file
from .definitions.discovery import PROJECT_FILE, find_project
from .definitions.model import Dataset, Kpi, ProjectConfig
from .plugins import PluginRegistry, get_plugin_manager
from .result import Result
from .sources.rows import with_booleans
from .definitions.validation import validate_catalog

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
    connectors, errors = _sources(config, document, registry, root)
    files, missing = definition_files(root, config.definitions, document)
    errors += missing
    catalog = Catalog(functions=registry.functions)
    errors += load_definitions(files, catalog, environ)
    project = Project(root, config, catalog, connectors, registry)
    project.inputs = _Inputs(config_path, files, [p for p, _ in local_plugins], list(config.definitions),
                             {**catalog.variables, **(document.variables if document else {})})
    errors += project._check()
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


def _in_file_order(errors: list[KpiError], files: list[Path]) -> list[KpiError]:
    """kpi.yml first, then each definition file in reading order, each from top to bottom."""
    order = {display_path(path): i for i, path in enumerate(files)}

    def key(error: KpiError) -> tuple:
        file = error.file
        rank = -1 if file is None or file.endswith(PROJECT_FILE) else order.get(file, len(order))
        return (rank, error.line or 0, error.column or 0)

    return sorted(errors, key=key)


def _sources(config: ProjectConfig, document: YamlDocument | None, registry: PluginRegistry,
             root: Path) -> tuple[dict[str, Connector], list[KpiError]]:
    connectors: dict[str, Connector] = {}
    errors: list[KpiError] = []
    for name, source in config.sources.items():
        cls = registry.connectors.get(source.connector)
        span = document.span_at(("sources", name, "connector")) if document else None
        if cls is None:
            message = unknown("connector", source.connector, registry.connectors)
            errors.append(DefinitionError(message, span=span, hint=_install_hint(source.connector), code="connector"))
            continue
        options, problems = _options(cls, source.options, document, ("sources", name))
        errors += problems
        if options is not None:
            connectors[name] = cls(options, source=name, base_dir=root)
    if "default" not in connectors and "default" not in config.sources:
        from .sources.duckdb import DuckDBConnector, DuckDBOptions

        database = "kpi.duckdb" if (root / "kpi.duckdb").is_file() else ":memory:"
        connectors["default"] = DuckDBConnector(DuckDBOptions(database=database), source="default", base_dir=root)
    return connectors, errors


def _options(cls: type[Connector], options: dict[str, Any], document: YamlDocument | None, base: tuple):
    from pydantic import ValidationError

    try:
        return cls.Options.model_validate(options), []
    except ValidationError as exc:
        if document is None:
            return None, [DefinitionError(str(exc), code="schema")]
        return None, model_errors(exc, document, cls.Options, base)


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
    return Result(columns, merged, sql, kpis, first.dimensions, first.grain).sorted()


def _install_hint(name: str) -> str | None:
    if name in ("postgres", "spark"):
        return f"pip install kpi-engine-{name} (see plugins/{name})"
    return None


class Project:
    """A loaded, checked project. Build it with :func:`load`."""

    def __init__(self, root: Path, config: ProjectConfig, catalog: Catalog, connectors: dict[str, Connector],
                 registry: PluginRegistry) -> None:
        self.root = root
        self.config = config
        self.catalog = catalog
        self.connectors = connectors
        self.registry = registry
        self.binder = Binder(catalog)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._compiled: dict[tuple, CompiledQuery] = {}
        self._relations: dict[tuple[str, str], exp.Expression] = {}
        self.inputs: _Inputs | None = None

    # ------------------------------------------------------------- metadata
    @property
    def name(self) -> str:
        return self.config.name or self.root.name

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

    # -------------------------------------------------------------- queries
    def compile(self, kpis: Iterable[str] | str, *, dialect: str | None = None, grain: str = "month",
                by: Iterable[str] | str | None = (), where: str | None = None, start: Any = None,
                end: Any = None) -> str:
        """The SQL of a query, in ``dialect`` (default: the dialect of the source it reads)."""
        query = Query.create(kpis, grain=grain, by=by, where=where, start=start, end=end)
        return self.compiled(query, dialect).sql

    def query(self, kpis: Iterable[str] | str, *, grain: str = "month", by: Iterable[str] | str | None = (),
              where: str | None = None, start: Any = None, end: Any = None) -> Result:
        """Run a query; rows ordered by period, then dimensions (nulls last).

        KPIs of different sources run as one query per source, merged on the period and dimensions.
        """
        query = Query.create(kpis, grain=grain, by=by, where=where, start=start, end=end)
        groups: dict[str, list[str]] = {}
        for name in query.kpis:
            groups.setdefault(self.source_of(name) if name in self.catalog.kpis else "default", []).append(name)
        if len(groups) == 1:
            return self._run(query)
        return self._run_several(query, [tuple(names) for names in groups.values()])

    def _run_several(self, query: Query, groups: list[tuple[str, ...]]) -> Result:
        """One query per source, over the same periods: a missing --from/--to is the earliest (latest)
        period with rows in any of them."""
        results = [self._run(dataclasses.replace(query, kpis=names)) for names in groups]
        if query.grain != "all" and (query.start is None or query.end is None):
            ranges = [(r.rows[0][0], r.rows[-1][0]) for r in results if r.rows]
            if ranges:
                lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
                bounded = dataclasses.replace(query, start=query.start or dt.date.fromisoformat(lo),
                                              end=query.end or dt.date.fromisoformat(hi))
                results = [r if r.rows and (r.rows[0][0], r.rows[-1][0]) == (lo, hi)
                           else self._run(dataclasses.replace(bounded, kpis=names))
                           for r, names in zip(results, groups)]
        parts = [(r, self._empty_values(dataclasses.replace(query, kpis=names))) for r, names in zip(results, groups)]
        return _merge(parts, query)

    def _empty_values(self, query: Query) -> tuple:
        """The values of the query's KPIs over no rows, computed by their own engine."""
        compiled = self.compiled(query)
        connection = self.connection(compiled.source or "default")
        _, rows = connection.execute(compiled.empty_sql)
        offset = len(compiled.columns) - len(compiled.kpis)
        return with_booleans(rows, [i - offset for i in self.boolean_positions(compiled, connection)])[0]

    def source_of(self, kpi: str) -> str:
        """The source a KPI reads (that of its first aggregate's dataset; "default" for constants)."""
        for atom in atoms_of(self.binder.metric(kpi)):
            return self.catalog.datasets[atom.dataset].model.source
        return "default"

    def _run(self, query: Query) -> Result:
        compiled = self.compiled(query)
        connection = self.connection(compiled.source or "default")
        try:
            _, rows = connection.execute(compiled.sql)
        except SourceError:
            self._explain_failure(compiled)
            raise
        rows = with_booleans(rows, self.boolean_positions(compiled, connection))
        kpis_meta = {name: self.catalog.kpis[name].model for name in compiled.kpis}
        result = Result(list(compiled.columns), rows, compiled.sql, kpis_meta, compiled.dimensions, compiled.grain)
        return result.sorted()

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
        key = (query, dialect)
        cached = self._compiled.get(key)
        if cached is not None:
            return cached
        with self._lock:
            source = self._source_of_query(query)
            if dialect is not None and (problem := check_tested(dialect)) is not None:
                raise QueryError(problem, code="dialect")
            target = dialect_for(dialect or self.connectors[source].dialect)
            compiler = QueryCompiler(self.catalog, self.binder, target, self._relation)
            compiled = compiler.compile(query)
            self._compiled[key] = compiled
            return compiled

    def _source_of_query(self, query: Query) -> str:
        for name in query.kpis:
            if name in self.catalog.kpis:
                try:
                    return self.source_of(name)
                except KpiError:
                    continue
        return "default"

    def _relation(self, entry: DatasetEntry, dialect: SqlDialect) -> exp.Expression:
        """A dataset's FROM expression: its table, its parsed sql:, or its files.

        Errors point into the file: at the value, or at the word of the sql at fault.
        """
        key = (entry.name, dialect.name)
        if key not in self._relations:
            model = entry.model
            connector = self.connectors[model.source]
            field = "table" if model.table is not None else "sql" if model.sql is not None else "file"
            value = getattr(model, field)
            if value is not None and not value.strip():  # it would only fail later, as SQL reading nothing
                empty = {"table": "table is empty: name a table or view",
                         "sql": "sql is empty: write a SELECT query",
                         "file": "file is empty: name a CSV, Parquet or JSON file (a glob is allowed)"}
                raise DefinitionError(empty[field], span=entry.span(field), code="empty")
            parts = model.table.split(".") if model.table is not None else []
            if len(parts) > 3 or any(not part.strip() for part in parts):
                raise DefinitionError(f"invalid table name '{model.table}': write table, schema.table or "
                                      "catalog.schema.table", span=entry.span(field), code="bad-table")
            try:
                if model.table is not None:
                    relation: exp.Expression = table(model.table)
                elif model.sql is not None:
                    relation = parse_select(model.sql, connector.dialect)
                else:
                    assert model.file is not None
                    if dialect.name != connector.dialect and not connector.reads_files:
                        raise DefinitionError("file datasets run on a connector that reads files", code="no-files")
                    relation = connector.file_relation(model.file)
            except DefinitionError as exc:
                offsets = getattr(exc, "offsets", None)  # SqlTextError: where in the sql text
                span = entry.text(field, label=field).span(offsets) if offsets else entry.span(field)
                raise DefinitionError(exc.message, span=span, hint=exc.hint, code=exc.code) from exc
            self._relations[key] = relation
        return self._relations[key]

    # ---------------------------------------------------------- connections
    def connection(self, source: str = "default") -> Connection:
        """This thread's connection to a source (opened on first use)."""
        cache = getattr(self._local, "connections", None)
        if cache is None:
            cache = self._local.connections = {}
        if source not in cache:
            if source not in self.connectors:
                raise QueryError(unknown("source", source, self.connectors), code="unknown-source")
            connection = self.connectors[source].connect()
            cache[source] = connection
            with self._lock:
                self._connections.append(connection)
        return cache[source]

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                try:
                    connection.close()
                except Exception:  # pragma: no cover - closing is best effort
                    pass
            self._connections.clear()
            for connector in self.connectors.values():
                close = getattr(connector, "close", None)
                if close is not None:
                    close()
        self._local = threading.local()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ validation
    def _check(self) -> list[KpiError]:
        """Every definition rule, before any SQL runs."""
        errors: list[KpiError] = []
        for entry in self.catalog.datasets.values():
            source = entry.model.source
            if source not in self.connectors:
                if source in self.config.sources:
                    continue  # its connector error is already reported
                errors.append(DefinitionError(unknown("source", source, self.connectors), span=entry.span("source"),
                                              hint="sources are defined in kpi.yml", code="unknown-source"))
                continue
            try:
                self._relation(entry, dialect_for(self.connectors[source].dialect))
            except KpiError as exc:
                errors.append(exc)
        errors += validate_catalog(self.catalog, self.binder)
        return errors

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

        return live_errors(self, datasets)

