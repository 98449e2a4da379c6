"""The built-in ``duckdb`` connector: a database file (read-only), in-memory, and files.

Registered as a plugin through the public ``register_connectors`` hook, like any
other connector. ``file:`` datasets read CSV, Parquet and JSON (globs allowed)
with DuckDB's built-in readers, so an analyst can start from exports.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import Field
from sqlglot import exp

from ..errors import DefinitionError
from ..hookspecs import hookimpl
from .base import Connection, Connector, ConnectorOptions
from .opening import open_duckdb, pin_duckdb

__all__ = ["DuckDBConnector", "register_connectors"]

_READERS = {
    ".csv": "read_csv_auto",
    ".tsv": "read_csv_auto",
    ".txt": "read_csv_auto",
    ".parquet": "read_parquet",
    ".pq": "read_parquet",
    ".json": "read_json_auto",
    ".jsonl": "read_json_auto",
    ".ndjson": "read_json_auto",
}


_KINDS = {"DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP_NS": "timestamp", "TIMESTAMP_MS": "timestamp",
          "TIMESTAMP_S": "timestamp", "DATETIME": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz",
          "TIMESTAMPTZ": "timestamptz"}


class DuckDBOptions(ConnectorOptions):
    database: str = Field(":memory:", description="Database file (relative to kpi.yml), or :memory:.")
    threads: int | None = Field(None, ge=1, description="DuckDB worker threads; default: all cores.")
    memory_limit: str | None = Field(None, description="e.g. '4GB'.")


class DuckDBConnection(Connection):
    def __init__(self, connector: DuckDBConnector, con: Any) -> None:
        super().__init__(connector)
        import duckdb

        self.errors = (duckdb.Error,)
        self._con = con

    def _execute(self, sql: str, parameters: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        cursor = self._con.execute(sql, list(parameters)) if parameters else self._con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        return columns, cursor.fetchall()

    snapshots = True

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A transaction: DuckDB reads one snapshot in it (a read-only handle may begin one). Rolled back, as
        nothing is written, unless the connection was left to a statement that would not stop."""
        self._con.execute("BEGIN TRANSACTION")
        try:
            yield
        finally:
            if not self.abandoned:
                try:
                    self._con.execute("ROLLBACK")
                except self.errors:  # the transaction an interrupted statement ended: nothing to undo
                    pass

    def column_kinds(self, relation_sql: str) -> dict[str, str]:
        """From DuckDB's own description of the relation (no row is read)."""
        source = relation_sql if relation_sql.lstrip().lower().startswith(("select", "with", "(")) else \
            f"SELECT * FROM {relation_sql}"
        kinds = {}
        for name, column_type, *_ in self.execute(f"DESCRIBE {source}")[1]:
            kind = _KINDS.get(str(column_type).upper())
            if kind is not None:
                kinds[name] = kind
        return kinds

    def interrupt(self) -> bool:
        """DuckDB's own interrupt: the statement raises InterruptException at its next vector. It stops this
        cursor's statement only (other threads' cursors of the shared handle run on), and a cursor that is
        not running a statement ignores it: the next statement starts afresh."""
        self._con.interrupt()
        return True

    def close(self) -> None:
        self._con.close()


class DuckDBConnector(Connector):
    name = "duckdb"
    dialect = "duckdb"
    Options = DuckDBOptions
    reads_files = True

    def __init__(self, options: DuckDBOptions, *, source: str = "default", base_dir: Path | None = None) -> None:
        super().__init__(options, source=source, base_dir=base_dir)
        self._lock = threading.Lock()
        self._root: Any = None
        self._kept: dict[Any, Any] = {}

    @property
    def path(self) -> Path | None:
        database = self.options.database
        if database in ("", ":memory:"):
            return None
        path = Path(database).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def describe(self) -> str:
        path = self.path
        return f"duckdb {self.options.database}" if path is not None else "duckdb in-memory"

    def error_kind(self, exc: BaseException) -> str | None:
        import duckdb

        if isinstance(exc, duckdb.ParserException):
            return "syntax"
        if isinstance(exc, duckdb.OutOfRangeException):
            return "overflow"
        return None

    def open_arguments(self) -> dict[str, Any]:
        """How ``opening.open_duckdb`` opens this source (JSON, stored by the compile cache)."""
        path = self.path
        return {"path": str(path) if path is not None else None, "database": self.options.database,
                "source": self.source, "threads": self.options.threads, "memory_limit": self.options.memory_limit}

    def connect(self) -> Connection:
        """A cursor of one shared read-only database handle: DuckDB allows one handle per file and process."""
        import duckdb

        with self._lock:
            if self._root is None:
                try:
                    self._root = open_duckdb(**self.open_arguments())
                except duckdb.Error as exc:
                    raise self.failure(exc, "cannot be opened") from exc
            return DuckDBConnection(self, pin_duckdb(self._root.cursor()))  # a cursor is a session of its own

    def while_open(self) -> dict[Any, Any] | None:
        # the read-only handle on a file locks every writer out, in this process and in others, until it is
        # closed; a database in memory may be filled by whoever holds it
        with self._lock:
            return self._kept if self._root is not None and self.path is not None else None

    def file_relation(self, pattern: str) -> exp.Expression:
        path = Path(pattern).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        suffix = path.suffix.lower()
        if suffix == ".gz":
            suffix = Path(path.stem).suffix.lower()
        reader = _READERS.get(suffix)
        if reader is None:
            raise DefinitionError(f"cannot tell the format of '{pattern}': use a .csv, .parquet or .json file",
                                  code="no-files")
        # a table function is a relation: FROM read_csv_auto('...') AS t, never a subquery around it
        # (DuckDB 2.0.1 rejects FROM (read_csv_auto('...')) AS t)
        return exp.Table(this=exp.Anonymous(this=reader, expressions=[exp.Literal.string(str(path))]))

    def close(self) -> None:
        with self._lock:
            if self._root is not None:
                self._root.close()
                self._root = None
                self._kept = {}  # a writer may come in now


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [DuckDBConnector]
