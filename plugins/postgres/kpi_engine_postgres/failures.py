"""psycopg exceptions as one clear line and a hint of what to check.

A connection failure comes from libpq as ``connection failed: connection to
server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed
for user "kpi"``, with no SQLSTATE; a query failure has a SQLSTATE
(``57014`` statement timeout, ``42P01`` undefined table, ...). Both become the
server's own words without libpq's prefixes (the source's location is already
in the message) plus a hint naming the kpi.yml option to look at. Secrets are
cut out of the text whatever the server or libpq put in it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .options import PostgresOptions

__all__ = ["explain", "redact"]

_PREFIXES = (
    re.compile(r"^connection failed:\s*"),
    re.compile(r'^connection to server (?:at "[^"]*"(?: \([^)]*\))?, port \d+|on socket "[^"]*") failed:\s*'),
    re.compile(r"^(?:FATAL|ERROR):\s+"),
)

#: SQLSTATE classes of failures to connect or to stay connected (libpq's own failures have none).
_CONNECTION_CLASSES = ("08", "28", "3D", "53", "57")

#: (regular expression over the lower-cased message, hint) for failures without a precise SQLSTATE.
_CONNECT_HINTS: tuple[tuple[str, str], ...] = (
    ("password authentication failed",
     "check user and password (or the dsn) of this source in kpi.yml; ${{VAR}} values are read from the environment"),
    ("no password supplied",
     "the server asks for a password: set password: (e.g. ${{PGPASSWORD}}), put it in the dsn, or use ~/.pgpass"),
    ("role \"[^\"]*\" does not exist", "check user: (or the user in the dsn) of this source in kpi.yml"),
    ("database \"[^\"]*\" does not exist", "check dbname: (or the database in the dsn) of this source in kpi.yml"),
    ("connection refused",
     "is the PostgreSQL server running and accepting TCP/IP connections at {location}? "
     "check host: and port: (or the dsn) in kpi.yml"),
    ("timeout expired",
     "the server did not answer within connect_timeout ({connect_timeout}): check host: and port:, "
     "that the server is up and that no firewall drops the connection"),
    ("resolve host", "check host: (or the host in the dsn) of this source in kpi.yml"),
    ("translate host name", "check host: (or the host in the dsn) of this source in kpi.yml"),
    ("no pg_hba.conf entry",
     "the server does not accept this user from this host: ask its administrator for a pg_hba.conf entry"),
    ("no such file or directory",
     "no host given, so libpq tried the local Unix socket: set host: (and port:) in kpi.yml"),
    ("too many",
     "the server has no free connection slot: close other sessions, or ask for a higher max_connections"),
    (r"\bssl", "check sslmode (and the certificates) in the dsn of this source"),
    ("server closed the connection",
     "the server closed the connection: it may be restarting, or a proxy or firewall cut the connection"),
)

_SQLSTATE_HINTS: dict[str, str] = {
    "42P01": "check the dataset's table: (schema-qualified if needed) and schema: of this source in kpi.yml; "
             "tables are looked up in {search_path}",
    "3F000": "check schema: of this source in kpi.yml, and the schema of the dataset's table:",
    "42703": "run `kpi validate` to check every column the definitions read against this source",
    "42501": "the user needs SELECT on the tables (and USAGE on their schema): ask the database owner for "
             "GRANT SELECT",
    "25006": "kpi_engine only reads: every session is read-only, so a dataset's sql: must not write "
             "(no INSERT/UPDATE/DELETE, no nextval(), no function that modifies data)",
    "42883": "a function in a dataset's sql: (or a plugin's SQL) does not exist on this server, "
             "or its arguments have other types",
    "53300": "the server has no free connection slot: close other sessions, or ask for a higher max_connections",
}


def explain(exc: BaseException, options: PostgresOptions) -> tuple[str, str | None]:
    """The first line of what went wrong (prefixes removed) and a hint, for any psycopg exception."""
    text = str(exc).strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    for prefix in _PREFIXES:
        line = prefix.sub("", line)
    values = {
        "location": options.location().rsplit("/", 1)[0],
        "connect_timeout": f"{options.connect_timeout:g}s",
        "search_path": ("schema " + ", ".join(options.schemas)) if options.schemas else "the server's search_path",
    }
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate == "57014":
        return line, _cancel_hint(line, options)
    if sqlstate in _SQLSTATE_HINTS:
        return line, _SQLSTATE_HINTS[sqlstate].format(**values)
    if sqlstate is not None and sqlstate[:2] not in _CONNECTION_CLASSES:
        return line, None
    lowered = text.lower()
    for needle, hint in _CONNECT_HINTS:
        if re.search(needle, lowered):
            return line, hint.format(**values)
    return line, "check the connection settings of this source in kpi.yml (dsn, host, port, user, password, dbname)"


def _cancel_hint(line: str, options: PostgresOptions) -> str:
    if "statement timeout" not in line:
        return "the query was cancelled on the server (by an administrator, or Ctrl-C)"
    limit = options.describe_timeout()
    if limit is None:
        return ("the server's statement_timeout stopped the query: set a longer statement_timeout: for this "
                "source in kpi.yml, or query fewer periods (--from/--to)")
    return (f"the query ran longer than statement_timeout ({limit}): raise statement_timeout: of this source "
            "in kpi.yml, or query fewer periods (--from/--to)")


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every whole occurrence of a secret replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = re.sub(rf"(?<![\w]){re.escape(secret)}(?![\w])", "***", text)
    return text
