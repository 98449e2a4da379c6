"""Opening the built-in sources read-only: one function per engine, for the connectors and the cache.

The command's compile cache (``cli.cached_run``) replays stored SQL without loading the connectors (which
import pydantic and sqlglot); it opens the source through these same functions, so a cached run
sees exactly the database an uncached one sees: read-only, no extension downloads, SQLite's
Unicode-aware ``upper``/``lower``. This module imports only the standard library and ``errors``
(DuckDB itself is imported when a DuckDB source is opened).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SourceError
from ..timezones import zone as zone_info

__all__ = ["OPENERS", "open_duckdb", "open_sqlite", "pin_duckdb"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"


def open_duckdb(path: str | None, *, database: str, source: str, threads: int | None = None,
                memory_limit: str | None = None) -> Any:
    """A read-only DuckDB handle on a database file (in memory when ``path`` is None).

    DuckDB never downloads an extension here (``autoinstall_known_extensions`` off; the option
    works on DuckDB 1.1 to 2.0): running KPIs must not reach the network, and where there is
    none the download only fails, slowly. Raises ``duckdb.Error`` for the connector to word.
    """
    import duckdb

    config: dict[str, Any] = {"autoinstall_known_extensions": False}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    if path is None:
        return pin_duckdb(duckdb.connect(":memory:", config=config))
    if not Path(path).is_file():
        raise SourceError(f"source '{source}': database file {database} does not exist",
                          hint="check 'database:' in kpi.yml (relative to kpi.yml), or run `kpi demo`",
                          code="source")
    _check_duckdb_file(Path(path), database, source)
    try:
        return pin_duckdb(duckdb.connect(path, read_only=True, config=config))
    except duckdb.ConnectionException as exc:
        if "different configuration" not in str(exc):
            raise
        # the process (an application embedding kpi_engine) has the file open already: DuckDB shares
        # that database and refuses other settings, so use it as it is
        return pin_duckdb(duckdb.connect(path, read_only=True))


def pin_duckdb(connection: Any) -> Any:
    """A DuckDB session in UTC: without it, DuckDB reads an instant's fields in the process's time zone, so
    the same query would give other numbers on another machine (local time is always asked for by zone)."""
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def _check_duckdb_file(path: Path, database: str, source: str) -> None:
    """Refuse a file that is not a DuckDB database before DuckDB opens it.

    DuckDB reads a SQLite file through its sqlite extension, which it would
    try to download; any other file gives a long error with the absolute path.
    A DuckDB file has the magic bytes ``DUCK`` after an 8-byte checksum.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise SourceError(f"source '{source}': cannot read {database}: {exc.strerror}", code="source") from exc
    if head.startswith(_SQLITE_MAGIC):
        raise SourceError(f"source '{source}': {database} is a SQLite database, not a DuckDB one",
                          hint="use connector: sqlite for this file", code="source")
    if head[8:12] != _DUCKDB_MAGIC:
        what = "an empty file, not a DuckDB database" if not head else "not a DuckDB database"
        raise SourceError(f"source '{source}': {database} is {what}",
                          hint="check 'database:' in kpi.yml (relative to kpi.yml)", code="source")


def open_sqlite(path: str, *, database: str, source: str, timeout: float = 5.0) -> sqlite3.Connection:
    """A read-only SQLite connection, usable from the thread that asks for it and others.

    SQLite's own upper()/lower() change ASCII letters only ('é' stays 'é' in upper()):
    Unicode-aware ones give the same text as the other engines. Raises ``sqlite3.Error``
    for the connector to word.
    """
    if not Path(path).is_file():
        raise SourceError(f"source '{source}': database file {database} does not exist",
                          hint="check 'database:' in kpi.yml (relative to kpi.yml)", code="source")
    con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=timeout,
                          check_same_thread=False)
    try:
        con.execute("PRAGMA query_only = ON")
        con.create_function("upper", 1, _unicode(str.upper), deterministic=True)
        con.create_function("lower", 1, _unicode(str.lower), deterministic=True)
        # SQLite has no time zone database: local times come from Python's zoneinfo
        con.create_function("kpi_local", 3, _local_text, deterministic=True)
        con.create_function("kpi_instant", 2, _instant_text, deterministic=True)
    except sqlite3.Error:
        con.close()
        raise
    return con


def _parse_time(value: Any, zone: str) -> dt.datetime | None:
    """SQLite time text as an aware datetime: with an offset (+02:00, Z) an instant, without one a wall time of
    ``zone`` (in a DST gap with the offset before it, in a repeated hour its first occurrence); None for a
    calendar date (YYYY-MM-DD) or anything that is not time text."""
    if not isinstance(value, str) or len(value) <= 10:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone_info(zone))


def _text(moment: dt.datetime) -> str:
    """A naive time as text SQLite's date functions read (microseconds kept when there are some)."""
    return moment.isoformat(sep=" ", timespec="microseconds" if moment.microsecond else "seconds")


def _local_text(value: Any, data_zone: str, zone: str) -> Any:
    """kpi_local(ts, data_zone, zone): the wall time of ``zone`` (dates and other values as they are)."""
    moment = _parse_time(value, data_zone)
    if moment is None:
        return value
    # through UTC: astimezone() to a datetime's own tzinfo returns it unchanged, which would leave a gap's
    # wall time (02:30) as it is instead of the wall time after the gap (03:30) that its instant shows
    return _text(moment.astimezone(dt.timezone.utc).astimezone(zone_info(zone)).replace(tzinfo=None))


def _instant_text(value: Any, data_zone: str) -> Any:
    """kpi_instant(ts, data_zone): the instant as naive UTC text, for elapsed times."""
    moment = _parse_time(value, data_zone)
    if moment is None:
        return value
    return _text(moment.astimezone(dt.timezone.utc).replace(tzinfo=None))


def _unicode(method: Callable[[str], str]) -> Callable[[Any], Any]:
    """A text function for SQLite: null stays null, other values are read as text."""

    def apply(value: Any) -> Any:
        return None if value is None else method(value if isinstance(value, str) else str(value))

    return apply


#: connector name -> the function that opens its source, from the keyword arguments the connector
#: gives (``Connector.open_arguments``), which the cache stores as JSON
OPENERS: dict[str, Callable[..., Any]] = {"duckdb": open_duckdb, "sqlite": open_sqlite}
