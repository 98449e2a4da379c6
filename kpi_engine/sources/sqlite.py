"""The built-in ``sqlite`` connector: a database file opened read-only.

SQLite keeps timestamps as ISO text and booleans as 0/1; the SQLite dialect
adapter (``compiler.dialects.SQLite``) writes date functions that read such
text, so the same definitions give the same numbers as on DuckDB.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from ..hookspecs import hookimpl
from .base import Connection, Connector, ConnectorOptions
from .opening import open_sqlite

__all__ = ["SQLiteConnector", "register_connectors"]


class SQLiteOptions(ConnectorOptions):
    database: str = Field(description="Database file, relative to kpi.yml.")
    timeout: float = Field(5.0, ge=0, description="Seconds to wait for a locked database.")


class SQLiteConnection(Connection):
    errors = (sqlite3.Error,)

    def __init__(self, connector: SQLiteConnector, con: sqlite3.Connection) -> None:
        super().__init__(connector)
        self._con = con
        self._declared: dict[str, dict[str, str]] = {}

    def _execute(self, sql: str, parameters: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        cursor = self._con.execute(sql, tuple(parameters))
        columns = [d[0] for d in cursor.description or []]
        return columns, cursor.fetchall()

    def declares_boolean(self, table: str, column: str) -> bool:
        """From the declared type (``PRAGMA table_info``): BOOLEAN or BOOL, as written by most tools."""
        if table not in self._declared:
            schema, _, name = table.rpartition(".")
            prefix = f'"{schema}".' if schema else ""
            try:
                info = self._con.execute(f"PRAGMA {prefix}table_info(\"{name.replace(chr(34), chr(34) * 2)}\")")
                self._declared[table] = {row[1].lower(): str(row[2] or "").upper() for row in info.fetchall()}
            except sqlite3.Error:
                self._declared[table] = {}
        return self._declared[table].get(column.lower(), "").startswith("BOOL")

    def interrupt(self) -> bool:
        """``sqlite3_interrupt``: the running statement fails with "interrupted" at its next step. Safe from
        another thread (the connection is opened with ``check_same_thread=False``); when no statement runs,
        SQLite ignores it, so it cannot stop the next one."""
        self._con.interrupt()
        return True

    def close(self) -> None:
        self._con.close()


class SQLiteConnector(Connector):
    name = "sqlite"
    dialect = "sqlite"
    Options = SQLiteOptions
    booleans_as_integers = True

    @property
    def path(self) -> Path:
        path = Path(self.options.database).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def describe(self) -> str:
        return f"sqlite {self.options.database}"

    def error_kind(self, exc: BaseException) -> str | None:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and ("syntax error" in text or "unrecognized token" in text):
            return "syntax"
        if "integer overflow" in text:
            return "overflow"
        return None

    def open_arguments(self) -> dict[str, Any]:
        """How ``opening.open_sqlite`` opens this source (JSON, stored by the compile cache)."""
        return {"path": str(self.path), "database": self.options.database, "source": self.source,
                "timeout": self.options.timeout}

    def connect(self) -> Connection:
        try:
            con = open_sqlite(**self.open_arguments())
        except sqlite3.Error as exc:
            raise self.failure(exc, "cannot be opened") from exc
        return SQLiteConnection(self, con)


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [SQLiteConnector]
