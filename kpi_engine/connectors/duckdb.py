"""The built-in ``duckdb`` connector: a database file (read-only), in-memory, and files.

Registered as a plugin through the public ``register_connectors`` hook, like any
other connector. ``file:`` datasets read CSV, Parquet and JSON (globs allowed)
with DuckDB's built-in readers, so an analyst can start from exports.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field
from sqlglot import exp

from ..errors import DefinitionError, SourceError
from ..hookspecs import hookimpl
from .base import Connection, Connector, ConnectorOptions

__all__ = ["DuckDBConnector", "register_connectors"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"

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

    def connect(self) -> Connection:
        """A cursor of one shared read-only database handle: DuckDB allows one handle per file and process.

        DuckDB never downloads an extension here (``autoinstall_known_extensions``
        off; the option works on DuckDB 1.1 to 2.0): running KPIs must not reach the network,
        and where there is none the download only fails, slowly.
        """
        import duckdb

        with self._lock:
            if self._root is None:
                config: dict[str, Any] = {"autoinstall_known_extensions": False}
                if self.options.threads:
                    config["threads"] = self.options.threads
                if self.options.memory_limit:
                    config["memory_limit"] = self.options.memory_limit
                path = self.path
                try:
                    if path is None:
                        self._root = duckdb.connect(":memory:", config=config)
                    else:
                        if not path.is_file():
                            raise SourceError(
                                f"source '{self.source}': database file {self.options.database} does not exist",
                                hint="check 'database:' in kpi.yml (relative to kpi.yml), or run `kpi demo`",
                                code="source")
                        self._check_database_file(path)
                        self._root = duckdb.connect(str(path), read_only=True, config=config)
                except duckdb.Error as exc:
                    raise self.failure(exc, "cannot be opened") from exc
            return DuckDBConnection(self, self._root.cursor())

    def _check_database_file(self, path: Path) -> None:
        """Refuse a file that is not a DuckDB database before DuckDB opens it.

        DuckDB reads a SQLite file through its sqlite extension, which it would
        try to download; any other file gives a long error with the absolute path.
        A DuckDB file has the magic bytes ``DUCK`` after an 8-byte checksum.
        """
        try:
            with path.open("rb") as handle:
                head = handle.read(16)
        except OSError as exc:
            raise SourceError(f"source '{self.source}': cannot read {self.options.database}: {exc.strerror}",
                              code="source") from exc
        if head.startswith(_SQLITE_MAGIC):
            raise SourceError(f"source '{self.source}': {self.options.database} is a SQLite database, "
                              "not a DuckDB one", hint="use connector: sqlite for this file", code="source")
        if head[8:12] != _DUCKDB_MAGIC:
            what = "an empty file, not a DuckDB database" if not head else "not a DuckDB database"
            raise SourceError(f"source '{self.source}': {self.options.database} is {what}",
                              hint="check 'database:' in kpi.yml (relative to kpi.yml)", code="source")

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


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [DuckDBConnector]
