"""The ``postgres`` connector: psycopg 3 sessions that can only read.

Every statement runs alone in its own ``BEGIN READ ONLY`` transaction that is
rolled back afterwards (psycopg's ``read_only`` connection attribute). The server
refuses any write inside it — INSERT, DDL, ``nextval()``, a function that
modifies data — a statement cannot switch its own transaction back to
read-write, and one ``execute`` is one statement (never ``...; COMMIT; ...``),
so not even SQL that slipped past the engine's checks can change a user's
database. A failed statement leaves no aborted transaction behind.

Session settings (``search_path`` from ``schema:``, ``statement_timeout``, and
``TimeZone`` = UTC) are set once per connection with ``set_config`` and committed,
so they outlive the rolled-back transactions. The time zone is pinned so that no
number depends on the server's, database's or role's zone: kpi_engine asks for
local time by zone name wherever it needs it. The project keeps one connection per thread; this
connector keeps no shared state, so :meth:`PostgresConnector.connect` needs no
lock. A session that the server dropped is reopened before the next statement. A query past its
time limit (``Project.query(..., timeout=)``) is cancelled on the server, as Ctrl-C in psql does.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpi_engine import Connection, Connector, SourceError
from kpi_engine.errors import did_you_mean

from .failures import explain, redact
from .options import PostgresOptions
from .rows import consistent_decimals

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresConnection", "PostgresConnector"]

#: Seconds to wait for the server to take a cancel request (psycopg's default is 30).
_CANCEL_TIMEOUT = 5.0
#: What a time column holds, by the type OID the server describes it with (timestamp, timestamptz, date).
_KINDS = {1114: "timestamp", 1184: "timestamptz", 1082: "date"}
_SCHEMAS = ("SELECT nspname FROM pg_catalog.pg_namespace "
            "WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY nspname")


class PostgresConnection(Connection):
    """One thread's session. ``parameters`` use psycopg's placeholders: ``%s`` (a sequence) or ``%(name)s``."""

    def __init__(self, connector: PostgresConnector, session: psycopg.Connection) -> None:
        super().__init__(connector)
        import psycopg

        self.errors = (psycopg.Error,)
        self.connector: PostgresConnector = connector
        # the session lives in a list the finalizer shares: a Project dropped without close() still ends its
        # server sessions, and before psycopg's own finalizer would warn about them (weakref callbacks run first)
        self._sessions: list[psycopg.Connection] = [session]
        self._finalizer = weakref.finalize(self, _close_sessions, self._sessions)

    def _execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any]) -> tuple[list[str], list[tuple]]:
        import psycopg

        session = self._live_session()
        try:
            with session.cursor() as cursor:
                # Without parameters psycopg leaves the text alone (LIKE '50%' needs no escaping), but it would
                # send it by the simple protocol, which runs several statements: "...; COMMIT" could end the
                # read-only transaction. The extended protocol runs exactly one: in a pipeline (which also sends
                # BEGIN READ ONLY and the statement together), or as a prepared statement where libpq has none.
                if psycopg.Pipeline.is_supported():
                    with session.pipeline() as pipeline:
                        cursor.execute(sql, parameters or None)
                        pipeline.sync()
                else:
                    cursor.execute(sql, parameters or None, prepare=True)
                if cursor.description is None:
                    return [], []
                return [column.name for column in cursor.description], consistent_decimals(cursor.fetchall())
        finally:
            _end_transaction(session)

    def column_kinds(self, relation_sql: str) -> dict[str, str]:
        """From the server's description of the relation read with ``LIMIT 0`` (type OIDs; no row is read)."""
        import sqlglot
        from sqlglot.errors import SqlglotError

        try:
            is_query = isinstance(sqlglot.parse_one(relation_sql, read="postgres"), sqlglot.exp.Query)
        except SqlglotError:
            is_query = False
        source = f"({relation_sql}) AS kpi_probe" if is_query else relation_sql
        session = self._live_session()
        try:
            with session.cursor() as cursor:
                cursor.execute(f"SELECT * FROM {source} LIMIT 0", prepare=True)  # one statement, never more
                described = cursor.description or []
        except self.errors as exc:
            raise self.connector.classified(exc, relation_sql) from exc
        finally:
            _end_transaction(session)
        return {column.name: _KINDS[column.type_code] for column in described if column.type_code in _KINDS}

    def _live_session(self) -> psycopg.Connection:
        """The session, reopened when the server closed it since the last statement."""
        if not self._finalizer.alive:
            raise SourceError(f"source '{self.connector.source}' ({self.connector.describe()}): "
                              "this connection is closed", code="source")
        if self._sessions and not self._sessions[0].closed:  # a session the server dropped is closed
            return self._sessions[0]
        _close_sessions(self._sessions)
        self._sessions.append(self.connector.open_session())
        return self._sessions[0]

    def interrupt(self) -> bool:
        """Ask the server to cancel the running statement (psycopg's ``cancel_safe()``, a cancel request on a
        connection of its own): the statement fails with SQLSTATE 57014 and its transaction is rolled back.

        A cancel request that reaches the server once the statement is over is ignored by it (a server
        session waiting for its next command drops it), so it cannot stop the next statement. A failure to
        reach the server raises: the caller reports that the statement could not be stopped.
        """
        sessions = list(self._sessions)  # the running statement's thread may be reopening the session
        if not sessions or sessions[0].closed:
            return False
        sessions[0].cancel_safe(timeout=_CANCEL_TIMEOUT)
        return True

    def close(self) -> None:
        self._finalizer()


def _close_sessions(sessions: list[psycopg.Connection]) -> None:
    while sessions:
        sessions.pop().close()


def _end_transaction(session: psycopg.Connection) -> None:
    """Roll back: nothing is ever committed, and an error leaves no aborted transaction."""
    import psycopg

    if session.closed:
        return
    for _ in range(2):  # twice: a cancel request that came as the statement ended may stop the first ROLLBACK
        try:
            session.rollback()
            return
        except psycopg.Error:  # the session is broken: the statement's own error is the one to report
            if session.closed:
                return


class PostgresConnector(Connector):
    """A PostgreSQL database, read through psycopg 3 (``connector: postgres`` in kpi.yml)."""

    name = "postgres"
    dialect = "postgres"
    Options = PostgresOptions

    def __init__(self, options: PostgresOptions, *, source: str = "default", base_dir: Path | None = None) -> None:
        super().__init__(options, source=source, base_dir=base_dir)
        self.options: PostgresOptions = options

    def describe(self) -> str:
        return f"postgres {self.options.location()}"

    def connect(self) -> Connection:
        return PostgresConnection(self, self.open_session())

    def open_session(self) -> psycopg.Connection:
        """A new session: connected, read-only, with the source's search_path and statement_timeout."""
        import psycopg
        from psycopg import conninfo

        try:
            session = psycopg.connect(conninfo.make_conninfo(**self.options.parameters()), autocommit=False)
        except psycopg.Error as exc:
            raise self.failure(exc, "cannot connect") from exc
        try:
            session.read_only = True
            self._configure(session)
            session.commit()
        except psycopg.Error as exc:
            session.close()
            raise self.failure(exc, "cannot start a session") from exc
        except BaseException:
            session.close()
            raise
        return session

    def _configure(self, session: psycopg.Connection) -> None:
        settings: dict[str, str] = {"TimeZone": "UTC"}
        schemas = self.options.schemas
        if schemas:
            existing = [row[0] for row in session.execute(_SCHEMAS).fetchall()]
            for schema in schemas:
                if schema not in existing:
                    raise self._missing_schema(schema, existing)
            settings["search_path"] = ", ".join('"' + s.replace('"', '""') + '"' for s in schemas)
        if self.options.statement_timeout is not None:
            settings["statement_timeout"] = f"{max(1, round(self.options.statement_timeout * 1000))}ms"
        for name, value in settings.items():
            session.execute("SELECT pg_catalog.set_config(%s, %s, false)", [name, value])

    def _missing_schema(self, schema: str, existing: list[str]) -> SourceError:
        suggestion = did_you_mean(schema, existing)
        message = f"source '{self.source}' ({self.describe()}): schema '{schema}' does not exist"
        if suggestion:
            message += f"; did you mean '{suggestion}'?"
        shown = ", ".join(existing[:12]) + (", ..." if len(existing) > 12 else "")
        hint = "check schema: of this source in kpi.yml" + (f" (schemas: {shown})" if existing else "")
        return SourceError(redact(message, self.options.secrets()), hint=hint, code="source")

    def error_kind(self, exc: BaseException) -> str | None:
        """By SQLSTATE: 42601 syntax_error (not "cannot insert multiple commands", a refused write);
        22003 numeric_value_out_of_range."""
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate == "42601" and "syntax error" in str(exc):
            return "syntax"
        return "overflow" if sqlstate == "22003" else None

    def failure(self, exc: BaseException, what: str = "failed") -> SourceError:
        """The driver's words without libpq's prefixes, a hint of what to check, and no secret."""
        line, hint = explain(exc, self.options)
        message = f"source '{self.source}' ({self.describe()}) {what}: {line}"
        secrets = self.options.secrets()
        return SourceError(redact(message, secrets), hint=redact(hint, secrets) if hint else None, code="source")
