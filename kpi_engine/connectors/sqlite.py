"""The built-in ``sqlite`` connector: a database file opened read-only.

SQLite keeps timestamps as ISO text and booleans as 0/1; the SQLite dialect
adapter (``compiler.dialects.SQLite``) writes date functions that read such
text, so the same definitions give the same numbers as on DuckDB.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from ..errors import SourceError
from ..hookspecs import hookimpl
from .base import Connection, Connector, ConnectorOptions

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

    def connect(self) -> Connection:
        path = self.path
        if not path.is_file():
            raise SourceError(f"source '{self.source}': database file {self.options.database} does not exist",
                              hint="check 'database:' in kpi.yml (relative to kpi.yml)", code="source")
        try:
            con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.options.timeout,
                                  check_same_thread=False)
            con.execute("PRAGMA query_only = ON")
            # SQLite's own upper()/lower() change ASCII letters only ('é' stays 'é' in upper()):
            # Unicode-aware ones give the same text as the other engines
            con.create_function("upper", 1, _unicode(str.upper), deterministic=True)
            con.create_function("lower", 1, _unicode(str.lower), deterministic=True)
        except sqlite3.Error as exc:
            raise self.failure(exc, "cannot be opened") from exc
        return SQLiteConnection(self, con)


def _unicode(method: Callable[[str], str]) -> Callable[[Any], Any]:
    """A text function for SQLite: null stays null, other values are read as text."""

    def apply(value: Any) -> Any:
        return None if value is None else method(value if isinstance(value, str) else str(value))

    return apply


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [SQLiteConnector]
