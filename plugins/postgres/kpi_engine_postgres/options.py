"""The options of a ``postgres`` source in kpi.yml, and the libpq parameters they stand for.

A source names its server either with one ``dsn`` (a libpq connection string or
``postgresql://`` URI, usually ``${VAR}`` so the password stays out of the file),
or with ``host``/``port``/``user``/``password``/``dbname``, or both: a field that
is given replaces that part of the dsn, so a team can share a dsn and override
the database or the user per project. What neither names is left to libpq
(``PGHOST``, ``PGPASSWORD``, ``~/.pgpass``, the local socket, ...).

The password and the dsn are :class:`pydantic.SecretStr`: they never show in a
``repr``, in an options dump, in :meth:`PostgresOptions.location` or in errors.
psycopg is imported only when a dsn has to be read, so loading a project that
does not use PostgreSQL never pays for it.
"""

from __future__ import annotations

import getpass
import math
import os
import re
from typing import Any

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from kpi_engine import ConnectorOptions

__all__ = ["PostgresOptions", "format_seconds", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1.0, "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
}
#: libpq keywords the separate fields stand for.
_FIELDS = ("host", "port", "user", "password", "dbname")


def parse_duration(value: Any, name: str) -> float | None:
    """Seconds from ``30``, ``1.5``, ``'30s'``, ``'500ms'``, ``'2min'`` or ``'1h'``; None stays None.

    PostgreSQL's own settings read units this way, and an analyst writes ``30s``
    rather than a number of milliseconds.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a duration such as 30, '30s', '500ms' or '2min'; got {value}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(f"{name} must be a duration such as 30, '30s', '500ms' or '2min'; got '{value}'")
        seconds = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name} must be more than 0 seconds; got '{value}'")
    return seconds


def format_seconds(seconds: float) -> str:
    """``1s``, ``1.5s``, ``250ms``, ``2min``: how a duration is shown in messages."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}min"
    return f"{seconds:g}s"


class PostgresOptions(ConnectorOptions):
    """The keys of a ``connector: postgres`` source in kpi.yml; an unknown key is an error."""

    dsn: SecretStr | None = Field(
        None, description="libpq connection string or URI, e.g. postgresql://user:password@host:5432/db "
                          "(usually ${VAR}); host, port, user, password and dbname, when given, replace its parts.")
    host: str | None = Field(None, description="Server host name or address (or a Unix socket directory); "
                                               "default: the dsn's, else libpq's (PGHOST, else the local socket).")
    port: int | None = Field(None, ge=1, le=65535, description="Server port; default: the dsn's, else 5432.")
    user: str | None = Field(None, description="User name; default: the dsn's, else libpq's (PGUSER, "
                                               "else the operating-system user).")
    password: SecretStr | None = Field(None, description="Password (write ${VAR}); default: the dsn's, "
                                                         "else libpq's (PGPASSWORD, ~/.pgpass).")
    dbname: str | None = Field(None, description="Database name; default: the dsn's, else the user name.")
    schema_: str | list[str] | None = Field(
        None, alias="schema",
        description="Schema (or list of schemas) that table: datasets are read from: the session's search_path. "
                    "Default: the server's search_path.")
    statement_timeout: float | None = Field(
        None, description="Longest a query may run before the server cancels it: seconds, or '30s', '500ms', "
                          "'5min'. Default: the server's setting.")
    connect_timeout: float = Field(
        10.0, description="Longest wait for the server to answer when connecting: seconds, or '10s'. Default 10s, "
                          "so a server that is down fails fast.")

    @field_validator("statement_timeout", "connect_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any, info: ValidationInfo) -> float | None:
        return parse_duration(value, str(info.field_name))

    @field_validator("schema_")
    @classmethod
    def _schema_names(cls, value: str | list[str] | None) -> str | list[str] | None:
        names = [value] if isinstance(value, str) else value or []
        if value is not None and (not names or any(not name.strip() for name in names)):
            raise ValueError("schema must be a schema name or a list of schema names")
        return value

    @model_validator(mode="after")
    def _valid_dsn(self) -> PostgresOptions:
        self.parameters()  # a dsn libpq cannot read is an error of kpi.yml, not of the first query
        return self

    # ------------------------------------------------------------------ views
    @property
    def schemas(self) -> list[str]:
        """The schemas of ``schema:``, in search order (empty: the server's search_path)."""
        return [self.schema_] if isinstance(self.schema_, str) else list(self.schema_ or [])

    def parameters(self) -> dict[str, str]:
        """The libpq parameters: the dsn's, each given field replacing its own."""
        params = _read_dsn(self.dsn.get_secret_value()) if self.dsn is not None else {}
        for key in _FIELDS:
            value = getattr(self, key)
            if value is not None:
                params[key] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if "connect_timeout" in self.model_fields_set or "connect_timeout" not in params:
            params["connect_timeout"] = str(max(1, math.ceil(self.connect_timeout)))
        params.setdefault("fallback_application_name", "kpi_engine")  # who is asking, in pg_stat_activity
        return params

    def secrets(self) -> list[str]:
        """Every text that must never be shown: the password (wherever it was given) and the dsn."""
        values = [self.dsn.get_secret_value() if self.dsn is not None else "", self.parameters().get("password", "")]
        return [v for v in values if v]

    def location(self) -> str:
        """``127.0.0.1:5432/kpi_test``: where the source is, for messages (never a password)."""
        params = self.parameters()
        host = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
        port = params.get("port") or os.environ.get("PGPORT") or "5432"
        user = params.get("user") or os.environ.get("PGUSER") or _os_user()
        dbname = params.get("dbname") or os.environ.get("PGDATABASE") or user
        return f"{host}:{port}/{dbname}"

    def describe_timeout(self) -> str | None:
        """``statement_timeout`` as written in messages (``200ms``, ``30s``), or None when not set."""
        return format_seconds(self.statement_timeout) if self.statement_timeout is not None else None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "postgres"


def _read_dsn(dsn: str) -> dict[str, str]:
    """The parameters of a dsn; libpq's complaint is repeated without quoting the dsn (it may hold a password)."""
    from psycopg import conninfo, pq

    if not dsn.strip():
        return {}
    try:
        return {key: str(value) for key, value in conninfo.conninfo_to_dict(dsn).items()}
    except Exception as exc:  # psycopg.ProgrammingError: libpq could not parse it
        keywords = {d.keyword.decode() for d in pq.Conninfo.get_defaults()} | {"="}
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else "it cannot be read"
        problem = re.sub(r'"([^"]*)"', lambda m: m.group(0) if m.group(1) in keywords else '"…"', problem)
        raise ValueError(f"dsn is not a PostgreSQL connection string ({problem}); write key=value pairs "
                         "(host=... dbname=...) or a URI postgresql://user:password@host:port/dbname") from None
