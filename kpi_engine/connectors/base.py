"""What a connector is: a named data source kind, its SQL dialect, its options and its connections.

A connector class is instantiated once per source of kpi.yml with its validated
options; :meth:`Connector.connect` opens a :class:`Connection`, one per thread
(the project keeps them). Connections open their sources read-only where the
engine allows it: running KPIs never writes to a user's database.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlglot import exp

from ..errors import DefinitionError, SourceError
from ..values import normalise_value

__all__ = ["Connection", "Connector", "ConnectorOptions", "normalise_value", "parse_select"]


class ConnectorOptions(BaseModel):
    """Base of a connector's options model: unknown options are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Connection:
    """An open session on a source. Subclasses implement :meth:`_execute` and :meth:`close`."""

    #: Exceptions of the driver that mean "the source failed" (wrapped in SourceError).
    errors: ClassVar[tuple[type[BaseException], ...]] = ()

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Run one statement with bound parameters; return (column names, rows)."""
        try:
            columns, rows = self._execute(sql, parameters)
        except self.errors as exc:
            raise self.connector.failure(exc) from exc
        return columns, [tuple(normalise_value(v) for v in row) for row in rows]

    def columns(self, relation_sql: str) -> list[str]:
        """The column names of a table or query, without reading its rows.

        A query is probed as a subquery; a table by its name, since some engines
        (PostgreSQL) read no parenthesised table name, ``FROM (t)``.
        """
        import sqlglot
        from sqlglot.errors import SqlglotError

        try:
            is_query = isinstance(sqlglot.parse_one(relation_sql, read=self.connector.dialect or None), exp.Query)
        except SqlglotError:
            is_query = False  # not SQL sqlglot reads: let the source say what is wrong with it
        source = f"({relation_sql}) AS kpi_probe" if is_query else relation_sql
        columns, _ = self.execute(f"SELECT * FROM {source} LIMIT 0")
        return columns

    def _execute(self, sql: str, parameters: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Connector:
    """A kind of data source. Subclass it, set the class attributes, implement :meth:`connect`."""

    #: The value of ``connector:`` in kpi.yml.
    name: ClassVar[str] = ""
    #: The sqlglot dialect its SQL is generated in.
    dialect: ClassVar[str] = ""
    #: The pydantic model of its options (every key of the source but ``connector``).
    Options: ClassVar[type[BaseModel]] = ConnectorOptions
    #: Whether ``file:`` datasets can read files through it.
    reads_files: ClassVar[bool] = False

    def __init__(self, options: BaseModel, *, source: str = "default", base_dir: Path | None = None) -> None:
        self.options = options
        self.source = source
        self.base_dir = base_dir or Path.cwd()

    def describe(self) -> str:
        """How the source is named in messages, e.g. ``duckdb data/helpdesk.duckdb``."""
        return self.name

    def connect(self) -> Connection:
        raise NotImplementedError

    def file_relation(self, pattern: str) -> exp.Expression:
        """The FROM expression reading ``file:`` datasets (CSV, Parquet, JSON; globs allowed)."""
        raise DefinitionError(f"connector '{self.name}' cannot read files; use a table: or sql: dataset, "
                              "or a duckdb source", code="no-files")

    def failure(self, exc: BaseException, what: str = "failed") -> SourceError:
        """A driver exception as a clear SourceError naming the source."""
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SourceError(f"source '{self.source}' ({self.describe()}) {what}: {first_line}", code="source")


def parse_select(sql_text: str, dialect: str) -> exp.Expression:
    """A dataset's ``sql:`` as a query tree; anything that could write is refused."""
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        statements = [s for s in sqlglot.parse(sql_text, read=dialect) if s is not None]
    except ParseError as exc:
        raise DefinitionError(f"cannot parse the dataset's sql: {str(exc).splitlines()[0]}", code="bad-sql") from exc
    if len(statements) != 1:
        raise DefinitionError("a dataset's sql must be one SELECT query", code="bad-sql")
    tree = statements[0]
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge,
              exp.Into, exp.Command, exp.Copy, exp.Set, exp.Use, exp.TruncateTable)
    if not isinstance(tree, exp.Query) or any(isinstance(node, writes) for node in tree.walk()):
        raise DefinitionError("a dataset's sql must be a SELECT query: running KPIs never writes data",
                              code="bad-sql")
    return tree
