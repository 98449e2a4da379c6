"""The ``csv_folder`` connector: a folder of CSV exports, queried through an in-memory SQLite database.

A connector brings its own engine when the data has none. Here the files are
read once, on the first connection, into a private in-memory SQLite database
(``dialect = "sqlite"``, so kpi_engine generates SQLite SQL for it); each
thread then gets its own copy of that database, made with SQLite's backup API,
because kpi_engine opens one connection per thread and never shares one.

The user's files are only read: nothing is written to the folder. The copies
are opened with ``PRAGMA query_only`` and no attached databases, so no SQL can
change the loaded data or write a file (kpi_engine itself sends only SELECTs).
Files changed after the first query are seen by the next ``kpi`` command (or
the next ``kpi_engine.load()``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kpi_engine import Connection, Connector, SourceError

from .columns import KINDS, Parsing
from .options import CsvFolderOptions, zone
from .reading import CsvProblem, find_tables, read_table

__all__ = ["CsvFolderConnection", "CsvFolderConnector"]


class CsvFolderConnection(Connection):
    """One thread's session: its own copy of the loaded database."""

    #: What kpi_engine turns into a SourceError (through ``connector.failure``) when a query fails.
    errors = (sqlite3.Error,)

    def __init__(self, connector: CsvFolderConnector, database: sqlite3.Connection) -> None:
        super().__init__(connector)
        self._database = database

    def _execute(self, sql: str, parameters: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        cursor = self._database.execute(sql, tuple(parameters))
        return [d[0] for d in cursor.description or []], cursor.fetchall()

    def close(self) -> None:
        self._database.close()


class CsvFolderConnector(Connector):
    """``connector: csv_folder``: each CSV file of ``folder`` is a table named after the file."""

    name = "csv_folder"
    dialect = "sqlite"
    Options = CsvFolderOptions
    options: CsvFolderOptions

    def __init__(self, options: CsvFolderOptions, *, source: str = "default", base_dir: Path | None = None) -> None:
        super().__init__(options, source=source, base_dir=base_dir)
        self._lock = threading.Lock()  # connect() is called from every thread that queries the source
        self._loaded: sqlite3.Connection | None = None
        #: Table name -> column names, once loaded (the rows live in SQLite only).
        self.tables: dict[str, tuple[str, ...]] = {}

    @property
    def folder(self) -> Path:
        folder = Path(self.options.folder).expanduser()
        return folder if folder.is_absolute() else self.base_dir / folder

    def describe(self) -> str:
        return f"csv_folder {self.options.folder}"

    def connect(self) -> Connection:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            # autocommit (isolation_level=None): Python's sqlite3 would otherwise open a transaction before
            # a refused write and leave it open. check_same_thread=False: Project.close() may close it from
            # another thread; kpi_engine never uses one connection from two threads at once.
            database = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self._loaded.backup(database)
        database.execute("PRAGMA query_only = ON")  # no statement changes the loaded tables
        database.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)  # nor reaches a file (ATTACH, VACUUM INTO)
        return CsvFolderConnection(self, database)

    def failure(self, exc: BaseException, what: str = "failed") -> SourceError:
        """The driver's message, plus the tables there are when a query names one that is not."""
        error = super().failure(exc, what)
        if "no such table" in str(exc) and self.tables:
            error.hint = (f"the tables of source '{self.source}' are {', '.join(sorted(self.tables))} "
                          "(one per CSV file, named after it, or as under 'tables:')")
        return error

    def close(self) -> None:
        with self._lock:
            if self._loaded is not None:
                self._loaded.close()
                self._loaded = None

    def _load(self) -> sqlite3.Connection:
        """Every table of the folder in a new in-memory database (the source's only writes go there)."""
        options = self.options
        parsing = Parsing(options.decimal, options.datetime_format, zone(options.timezone))
        try:
            files = find_tables(self.folder, options.tables, self._show)
            tables = {name: read_table(name, paths, delimiter=options.delimiter, encoding=options.encoding,
                                       null_values=options.null_values, parsing=parsing, show=self._show)
                      for name, paths in files.items()}
        except CsvProblem as problem:
            raise SourceError(f"source '{self.source}' ({self.describe()}): {problem.message}", hint=problem.hint,
                              code="source") from problem
        database = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            for table in tables.values():
                columns = ", ".join(f"{_quote(c)} {KINDS[k]}" for c, k in zip(table.columns, table.kinds))
                database.execute(f"CREATE TABLE {_quote(table.name)} ({columns})")
                marks = ", ".join("?" for _ in table.columns)
                database.executemany(f"INSERT INTO {_quote(table.name)} VALUES ({marks})", table.rows)
            database.commit()
        except sqlite3.Error as exc:
            database.close()
            raise self.failure(exc, "cannot be loaded") from exc
        self.tables = {name: table.columns for name, table in tables.items()}
        return database

    def _show(self, path: Path) -> str:
        """A path as the user wrote it: relative to the project folder when it is inside it."""
        try:
            return str(path.relative_to(self.base_dir))
        except ValueError:
            return str(path)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
