"""The sources of one loaded project: their connectors, this thread's connections, each dataset's FROM.

The connector *classes* come from plugins (``plugins.PluginRegistry``); :class:`Sources` holds the
connector *instances* kpi.yml's ``sources:`` builds from them, and everything that follows from
those: one connection per source and thread, the FROM expression of each dataset, closing.

It also gives the one answer to "which source does this read?" — :meth:`Sources.source_of` for a
dataset, and built on it :meth:`Sources.source_of_kpis` and :meth:`Sources.by_source` for KPIs —
used by the project's query grouping and dialect, by the compiler (as its ``source_name``), by the
command's compile cache and by the demo, so none of them can disagree on where a query runs.

Safe to use from several threads at once: each thread opens its own connections, and the
relation cache is filled under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..compiler.dialects import dialect_for
from ..compiler.sql import table
from ..errors import DefinitionError, KpiError, QueryError, unknown
from ..formulas.binder import atoms_of
from ..formulas.syntax import FormulaText
from .base import Connection, Connector, parse_select

if TYPE_CHECKING:
    from sqlglot import exp

    from ..compiler.dialects import SqlDialect
    from ..definitions.catalog import Catalog, DatasetEntry
    from ..definitions.loader import YamlDocument
    from ..definitions.model import Dataset, ProjectConfig
    from ..formulas.binder import Binder
    from ..plugins import PluginRegistry

__all__ = ["DEFAULT_SOURCE", "Sources"]

#: the source a dataset without ``source:`` reads, and the one a query of constants runs on
DEFAULT_SOURCE = "default"

#: what to write instead of an empty table:, sql: or file:
_EMPTY = {"table": "table is empty: name a table or view",
          "sql": "sql is empty: write a SELECT query",
          "file": "file is empty: name a CSV, Parquet or JSON file (a glob is allowed)"}


class Sources:
    """A project's connectors (source name → connector), their connections and the datasets' relations.

    ``catalog`` is the project's catalog (filled in place while the definition files load): a
    dataset names its source there. ``configured`` are the names kpi.yml's ``sources:`` lists,
    including those whose connector could not be built (already reported: not reported again as
    unknown sources).
    """

    def __init__(self, connectors: Mapping[str, Connector], catalog: Catalog, *,
                 configured: Iterable[str] = ()) -> None:
        self.connectors: dict[str, Connector] = dict(connectors)
        self.catalog = catalog
        self._configured = frozenset(configured) | frozenset(self.connectors)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._relations: dict[tuple[str, str], tuple[Dataset, exp.Expression]] = {}
        self._kinds: dict[str, dict[str, str]] = {}
        #: binder -> KPI -> its source: asked on every request of the HTTP API (its cache checks the files
        #: the query reads); a binder is its project's, fixed once loaded
        self._kpi_sources: tuple[Binder | None, dict[str, str | None]] = (None, {})

    @classmethod
    def from_config(cls, config: ProjectConfig, document: YamlDocument | None, registry: PluginRegistry,
                    root: Path, catalog: Catalog) -> tuple[Sources, list[KpiError]]:
        """The sources of kpi.yml, built through the plugins' connectors, and every problem with them
        (an unknown connector, a bad option), each at its place in kpi.yml.

        Without a ``default`` source, one is added: ``kpi.duckdb`` beside kpi.yml if it exists, else an
        in-memory DuckDB (which ``file:`` datasets can read through).
        """
        connectors: dict[str, Connector] = {}
        errors: list[KpiError] = []
        for name, source in config.sources.items():
            cls_ = registry.connectors.get(source.connector)
            if cls_ is None:
                span = document.span_at(("sources", name, "connector")) if document else None
                errors.append(DefinitionError(unknown("connector", source.connector, registry.connectors), span=span,
                                              hint=_install_hint(source.connector), code="connector"))
                continue
            options, problems = _options(cls_, source.options, document, ("sources", name))
            errors += problems
            if options is not None:
                connectors[name] = cls_(options, source=name, base_dir=root)
        if DEFAULT_SOURCE not in config.sources:
            connectors[DEFAULT_SOURCE] = _default_connector(root)
        return cls(connectors, catalog, configured=config.sources), errors

    # -------------------------------------------------- what a time column holds
    def time_kind(self, dataset: str, column: str) -> str | None:
        """What a dataset's column holds: "date", "timestamp" (naive), "timestamptz" (an instant), or None when
        the source cannot say (its connection's ``column_kinds``; a source that cannot be opened says nothing).

        The compiler asks only when a time zone other than UTC is involved: a date is then never shifted,
        an instant is converted as one, a naive time is read in the dataset's zone.
        """
        with self._lock:
            if dataset not in self._kinds:
                self._kinds[dataset] = self._read_kinds(dataset)
            return self._kinds[dataset].get(column.lower())

    def _read_kinds(self, dataset: str) -> dict[str, str]:
        entry = self.catalog.datasets[dataset]
        try:
            dialect = self.dialect(entry.model.source)
            relation_sql = dialect.generate(self.relation(entry, dialect), pretty=False)
            kinds = self.connection(entry.model.source).column_kinds(relation_sql)
        except KpiError:
            return {}
        return {name.lower(): kind for name, kind in kinds.items()}

    # -------------------------------------------------- which source a query reads
    def source_of(self, dataset: str) -> str:
        """The source a dataset reads. The compiler's ``source_name``, and what every answer below rests on."""
        return self.catalog.datasets[dataset].model.source

    def source_of_kpis(self, binder: Binder, names: Iterable[str]) -> str:
        """The source a query of these KPIs runs on: that of the first dataset they read, in order.

        KPIs that read no dataset (constants) can run anywhere; when none reads one, the default
        source. Unknown names are passed over: compiling the query reports them.
        """
        for name in names:
            source = self._kpi_source(binder, name)
            if source is not None:
                return source
        return DEFAULT_SOURCE

    def by_source(self, binder: Binder, names: Iterable[str]) -> dict[str, list[str]]:
        """The KPIs grouped by the source they read, in order: one query per source.

        KPIs that read no dataset (and unknown names, which compiling reports) join the first
        group, so they never cost a query of their own; alone, they form the default source's.
        """
        groups: dict[str, list[str]] = {}
        anywhere: list[str] = []
        for name in names:
            source = self._kpi_source(binder, name)
            if source is None:
                anywhere.append(name)
            else:
                groups.setdefault(source, []).append(name)
        if not groups:
            return {DEFAULT_SOURCE: anywhere} if anywhere else {}
        first = next(iter(groups))
        groups[first] += anywhere
        return groups

    def _kpi_source(self, binder: Binder, name: str) -> str | None:
        """The source of the first aggregate of a KPI; None when it reads no dataset or is unknown."""
        seen_binder, known = self._kpi_sources
        if seen_binder is not binder:
            known = {}
            self._kpi_sources = (binder, known)
        if name not in known:
            known[name] = self._find_kpi_source(binder, name)
        return known[name]

    def _find_kpi_source(self, binder: Binder, name: str) -> str | None:
        if name not in self.catalog.kpis:
            return None
        try:
            atoms = atoms_of(binder.metric(name))
        except KpiError:
            return None  # a KPI with errors: compiling it reports them
        return self.source_of(atoms[0].dataset) if atoms else None

    # ----------------------------------------------------------------- connectors
    def connector(self, source: str) -> Connector:
        """The connector of a source; an unknown name is a query error with a suggestion."""
        connector = self.connectors.get(source)
        if connector is None:
            raise QueryError(unknown("source", source, self.connectors), code="unknown-source")
        return connector

    def dialect(self, source: str) -> SqlDialect:
        """The SQL dialect queries on a source are written in."""
        return dialect_for(self.connector(source).dialect)

    # ------------------------------------------------------------------ relations
    def relation(self, entry: DatasetEntry, dialect: SqlDialect) -> exp.Expression:
        """A dataset's FROM expression in ``dialect``: its table, its parsed sql:, or its files.

        Errors point into the file: at the value, or at the word of the sql at fault. Built once
        per dataset and dialect (and again if the dataset's definition is replaced).
        """
        key = (entry.name, dialect.name)
        with self._lock:
            cached = self._relations.get(key)
            if cached is not None and cached[0] is entry.model:
                return cached[1]
            relation = self._build_relation(entry, dialect)
            self._relations[key] = (entry.model, relation)
            return relation

    def _build_relation(self, entry: DatasetEntry, dialect: SqlDialect) -> exp.Expression:
        model = entry.model
        connector = self.connector(model.source)
        field = "table" if model.table is not None else "sql" if model.sql is not None else "file"
        value = getattr(model, field)
        if value is not None and not value.strip():  # it would only fail later, as SQL reading nothing
            raise DefinitionError(_EMPTY[field], span=entry.span(field), code="empty")
        parts = model.table.split(".") if model.table is not None else []
        if len(parts) > 3 or any(not part.strip() for part in parts):
            raise DefinitionError(f"invalid table name '{model.table}': write table, schema.table or "
                                  "catalog.schema.table", span=entry.span(field), code="bad-table")
        try:
            if model.table is not None:
                return table(model.table)
            if model.sql is not None:
                return parse_select(model.sql, connector.dialect)
            assert model.file is not None
            if dialect.name != connector.dialect and not connector.reads_files:
                raise DefinitionError("file datasets run on a connector that reads files", code="no-files")
            return connector.file_relation(model.file)
        except DefinitionError as exc:
            offsets = getattr(exc, "offsets", None)  # SqlTextError: where in the sql text
            span = FormulaText.of(entry, field, label=field).span(offsets) if offsets else entry.span(field)
            raise DefinitionError(exc.message, span=span, hint=exc.hint, code=exc.code) from exc

    def dataset_errors(self) -> list[KpiError]:
        """Every dataset names a known source and its relation builds: checked at load, before any SQL runs."""
        errors: list[KpiError] = []
        for entry in self.catalog.datasets.values():
            source = entry.model.source
            if source not in self.connectors:
                if source not in self._configured:  # else its connector error is already reported
                    errors.append(DefinitionError(unknown("source", source, sorted(self._configured)),
                                                  span=entry.span("source"), hint="sources are defined in kpi.yml",
                                                  code="unknown-source"))
                continue
            try:
                self.relation(entry, self.dialect(source))
            except KpiError as exc:
                errors.append(exc)
        return errors

    # ---------------------------------------------------------------- connections
    def connection(self, source: str = DEFAULT_SOURCE) -> Connection:
        """This thread's connection to a source (opened on first use, kept until :meth:`close`)."""
        cache: dict[str, Connection] | None = getattr(self._local, "connections", None)
        if cache is None:
            cache = self._local.connections = {}
        if source not in cache:
            connection = self.connector(source).connect()
            cache[source] = connection
            with self._lock:
                self._connections.append(connection)
        return cache[source]

    def forget(self, source: str, connection: Connection) -> None:
        """Never hand ``connection`` out again, nor close it: a statement that could not be stopped still
        runs on it, and closes it when it ends (``sources.timeouts``). This thread's next query opens a new one."""
        connection.abandoned = True
        cache: dict[str, Connection] = getattr(self._local, "connections", {})
        if cache.get(source) is connection:
            del cache[source]
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)

    def close(self) -> None:
        """Close every connection of every thread, and the connectors that hold resources.

        The sources stay usable: the next query opens new connections.
        """
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


def _default_connector(root: Path) -> Connector:
    """The source of a project without ``sources.default``: kpi.duckdb beside kpi.yml, or an empty DuckDB."""
    from .duckdb import DuckDBConnector, DuckDBOptions

    database = "kpi.duckdb" if (root / "kpi.duckdb").is_file() else ":memory:"
    return DuckDBConnector(DuckDBOptions(database=database), source=DEFAULT_SOURCE, base_dir=root)


def _options(cls: type[Connector], options: dict[str, Any], document: YamlDocument | None,
             base: tuple) -> tuple[Any, list[KpiError]]:
    """A source's options checked by its connector's model; problems at their keys in kpi.yml."""
    from pydantic import ValidationError

    from ..definitions.files import model_errors

    try:
        return cls.Options.model_validate(options), []
    except ValidationError as exc:
        if document is None:
            return None, [DefinitionError(str(exc), code="schema")]
        return None, model_errors(exc, document, cls.Options, base)


def _install_hint(name: str) -> str | None:
    """The distribution that brings a connector kpi_engine ships separately."""
    if name in ("postgres", "spark"):
        return f"pip install kpi-engine-{name} (see plugins/{name})"
    return None
