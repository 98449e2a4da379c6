"""What a connector is: a named data source kind, its SQL dialect, its options and its connections.

A connector class is instantiated once per source of kpi.yml with its validated
options; :meth:`Connector.connect` opens a :class:`Connection`, one per thread
(the project keeps them). Connections open their sources read-only where the
engine allows it: running KPIs never writes to a user's database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlglot import exp

from ..errors import DefinitionError, EngineBugError, KpiError, QueryError, SourceError, did_you_mean, unknown
from .rows import normalise_value

__all__ = ["Connection", "Connector", "ConnectorOptions", "SqlTextError", "normalise_value", "parse_select"]


class ConnectorOptions(BaseModel):
    """Base of a connector's options model: unknown options are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Connection:
    """An open session on a source. Subclasses implement :meth:`_execute` and :meth:`close`, and
    :meth:`interrupt` so that a query's time limit stops the statement on the engine."""

    #: Exceptions of the driver that mean "the source failed" (wrapped in SourceError).
    errors: ClassVar[tuple[type[BaseException], ...]] = ()

    #: Statements run within :meth:`snapshot` read the same data, whatever is written meanwhile.
    snapshots: ClassVar[bool] = False

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        #: left to a statement that could not be stopped in time: never used again (``Sources.forget``)
        self.abandoned = False

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """The statements run within read one snapshot of the data (with :attr:`snapshots`; a read-only
        transaction). kpi_engine uses it to measure the range of a query's times, then run the query cut by
        the zone offsets of that range: a row written in between must not fall outside it. This default
        promises nothing, and the range is then not measured."""
        yield

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """Run one statement with bound parameters; return (column names, rows)."""
        try:
            columns, rows = self._execute(sql, parameters)
        except self.errors as exc:
            raise self.connector.classified(exc, sql) from exc
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

    def column_kinds(self, relation_sql: str) -> dict[str, str]:
        """The time columns of a table or query and what each holds: "date", "timestamp" (a naive wall time)
        or "timestamptz" (an instant); other columns may be left out. Used when a calendar or dataset time
        zone is not UTC, to convert each kind as it must be; connectors override it (the default knows
        nothing: times are then taken as naive)."""
        return {}

    def declares_boolean(self, table: str, column: str) -> bool:
        """Whether a table's column is declared boolean, for connectors whose engine returns booleans as
        0/1 (``Connector.booleans_as_integers``); those override it. A wrong guess is never fatal: False."""
        return False

    def interrupt(self) -> bool:
        """Ask the engine to stop the statement :meth:`execute` is running; True when it was told.

        This is how a query's time limit (``Project.query(..., timeout=)``) stops the work on the
        engine: kpi_engine calls it from another thread than the one running ``execute()``, only
        while ``execute()`` has not returned, and again every half second until it returns (a first
        call may come before the engine has started the statement). It must return quickly; the
        statement must then stop soon and ``execute()`` raise one of :attr:`errors` (the engine's
        "interrupted" or "cancelled" error), after which the connection runs the next statement as
        usual. The statement may finish at the very moment it is told to stop: an interrupt that
        comes too late must not stop the next statement.

        Connectors implement it with their driver's cancel (DuckDB and SQLite ``interrupt()``,
        psycopg ``cancel_safe()``, Spark job groups). This default cannot stop anything and says
        so (False): the caller still gets a ``QueryTimeoutError`` when the limit passes, saying
        the engine could not be told to stop, and kpi_engine stops using this connection, which
        it closes once the statement ends.
        """
        return False

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
    #: The engine has no boolean type and returns 0/1 (SQLite): kpi_engine turns the columns it knows
    #: are booleans back into true/false, asking ``Connection.declares_boolean`` about bare columns.
    booleans_as_integers: ClassVar[bool] = False

    def __init__(self, options: BaseModel, *, source: str = "default", base_dir: Path | None = None) -> None:
        self.options = options
        self.source = source
        self.base_dir = base_dir or Path.cwd()

    def describe(self) -> str:
        """How the source is named in messages, e.g. ``duckdb data/helpdesk.duckdb``."""
        return self.name

    def connect(self) -> Connection:
        raise NotImplementedError

    def while_open(self) -> dict[Any, Any] | None:
        """Where kpi_engine may keep facts about the data (the range of a column's times) for as long as this
        source stays open, because no one can change the data meanwhile; None (this default) where someone
        can: the facts are then read again for each query."""
        return None

    def file_relation(self, pattern: str) -> exp.Expression:
        """The FROM expression reading ``file:`` datasets (CSV, Parquet, JSON; globs allowed)."""
        raise DefinitionError(f"connector '{self.name}' cannot read files; use a table: or sql: dataset, "
                              "or a duckdb source", code="no-files")

    def error_kind(self, exc: BaseException) -> str | None:
        """What a driver exception from running a statement means beyond "the source failed".

        ``"syntax"``: the engine could not parse the statement; every statement is SQL kpi_engine
        wrote (a dataset's ``sql:`` is parsed and written again), so that is a bug of kpi_engine,
        reported with the statement. ``"overflow"``: a value does not fit its type (64-bit
        integers), a problem of the formula and the data, reported as a query error. None: a
        failure of the source (:meth:`failure`). Override it for your driver's exceptions.
        """
        return None

    def classified(self, exc: BaseException, sql: str) -> KpiError:
        """The error a failed statement gives the user, by :meth:`error_kind`."""
        kind = self.error_kind(exc)
        first_line = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        if kind == "syntax":
            return EngineBugError(
                f"kpi_engine wrote SQL that {self.name} cannot parse: {first_line}",
                hint="this is a bug in kpi_engine, not in your definitions: please report it with the statement "
                     "below (`kpi compile` prints it too)", statement=sql)
        if kind == "overflow":
            return QueryError(f"a value overflowed while computing the query on source '{self.source}': {first_line}",
                              hint="integers are 64-bit: multiply by a decimal constant (1.0 * x) to compute in "
                                   "decimals, or use smaller constants", code="overflow")
        return self.failure(exc)

    def failure(self, exc: BaseException, what: str = "failed") -> SourceError:
        """A driver exception as a clear SourceError naming the source."""
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SourceError(f"source '{self.source}' ({self.describe()}) {what}: {first_line}", code="source")


class SqlTextError(DefinitionError):
    """A problem inside a dataset's ``sql:`` text, with where it is in that text.

    ``offsets`` are (start, end) character offsets in the sql string, or None
    when the whole text is at fault; the project maps them into the YAML file.
    """

    def __init__(self, message: str, *, offsets: tuple[int, int] | None = None, hint: str | None = None,
                 code: str = "bad-sql") -> None:
        super().__init__(message, hint=hint, code=code)
        self.offsets = offsets


#: words that start a query, for "did you mean" on a misspelt first word
_QUERY_STARTS = ("select", "with", "values")
#: SQL keywords a misspelling of which is worth a "did you mean" near a syntax error
_KEYWORDS = ("select", "from", "where", "group", "by", "having", "order", "limit", "offset", "join", "inner",
             "left", "right", "full", "outer", "cross", "on", "using", "as", "union", "intersect", "except",
             "distinct", "case", "when", "then", "else", "end", "and", "or", "not", "in", "is", "null",
             "between", "like", "over", "partition", "with", "values", "cast", "exists", "all", "asc", "desc")


def parse_select(sql_text: str, dialect: str) -> exp.Expression:
    """A dataset's ``sql:`` as a query tree; anything that could write is refused.

    Errors are :class:`SqlTextError` s: a syntax error carries the offsets of the
    offending word, so the caller can point at it in the file.
    """
    import sqlglot
    from sqlglot.errors import ParseError, TokenError
    from sqlglot.tokens import Tokenizer

    if not sql_text.strip():
        raise SqlTextError("sql is empty: write a SELECT query", code="empty")
    refused = SqlTextError("a dataset's sql must be a SELECT query: running KPIs never writes data")
    try:
        tokens = sqlglot.tokenize(sql_text, read=dialect)
        if tokens and tokens[0].token_type in Tokenizer.COMMANDS:
            raise refused  # EXPLAIN, VACUUM, CALL...: parsing them only logs sqlglot's "falling back" warning
        statements = [s for s in sqlglot.parse(sql_text, read=dialect) if s is not None]
    except ParseError as exc:
        raise _not_a_statement(tokens) or _syntax_error(exc, tokens) from exc
    except TokenError as exc:
        raise _token_error(exc) from exc
    if len(statements) != 1:
        raise SqlTextError("a dataset's sql must be one SELECT query")
    tree = statements[0]
    writes = (exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge,
              exp.Into, exp.Command, exp.Copy, exp.Set, exp.Use, exp.TruncateTable)
    if not isinstance(tree, exp.Query):
        # sqlglot reads an unknown first word as an expression ("selec * frm t" is an alias) or a Command
        error = _not_a_statement(tokens)
        if error is not None:
            raise error
    if not isinstance(tree, exp.Query) or any(isinstance(node, writes) for node in tree.walk()):
        raise refused
    return tree


def _not_a_statement(tokens: list[Any]) -> SqlTextError | None:
    """``selec * from t``: a first word that is a plain name, not a SQL keyword."""
    from sqlglot.tokens import TokenType

    if not tokens or tokens[0].token_type != TokenType.VAR:
        return None
    word = tokens[0].text
    message = unknown("statement", word, _QUERY_STARTS, match=word.lower(), otherwise=": the sql is a SELECT query",
                      head=f"syntax error in the dataset's sql: '{word}' is not a statement")
    return SqlTextError(message, offsets=(tokens[0].start, tokens[0].end + 1), code="sql-syntax")


def _syntax_error(exc: Any, tokens: list[Any]) -> SqlTextError:
    """sqlglot's ParseError at the token it names (line and end column within the sql text)."""
    import re

    from sqlglot.tokens import TokenType

    info = exc.errors[0] if exc.errors else {}
    at = next((i for i, t in enumerate(tokens) if (t.line, t.col) == (info.get("line"), info.get("col"))), None)
    if at is None:
        return SqlTextError(f"syntax error in the dataset's sql: {str(exc).splitlines()[0]}", code="sql-syntax")
    # a misspelt keyword at or just before the error is the likely cause: point at it
    for token in (tokens[at], tokens[at - 1] if at else None):
        if token is not None and token.token_type == TokenType.VAR and "_" not in token.text \
                and did_you_mean(token.text.lower(), _KEYWORDS, cutoff=0.75) is not None:
            message = unknown("keyword", token.text, _KEYWORDS, match=token.text.lower(), cutoff=0.75,
                              head=f"syntax error in the dataset's sql: '{token.text}' is not a keyword")
            return SqlTextError(message, offsets=(token.start, token.end + 1), code="sql-syntax")
    token = tokens[at]
    description = re.sub(r" for <class '[^']*'>", "", info.get("description") or "invalid syntax")
    if description.startswith("Invalid expression") or description.startswith("Unexpected token"):
        problem = f"unexpected '{token.text}'"
    elif description.startswith("Required keyword") and at == len(tokens) - 1:
        problem = f"the sql ends too early, after '{token.text}'"
    elif description.startswith("Required keyword"):
        problem = f"'{token.text}' is not complete"
    elif description.startswith("Expecting "):
        problem = f"expected '{description[len('Expecting '):]}' before '{token.text}'"
    else:
        problem = f"{description[:1].lower()}{description[1:]} at '{token.text}'"
    return SqlTextError(f"syntax error in the dataset's sql: {problem}", offsets=(token.start, token.end + 1),
                        code="sql-syntax")


def _token_error(exc: Any) -> SqlTextError:
    """sqlglot's TokenError; an unclosed quote is found at its offset ("Missing ' from 1:7")."""
    import re

    cause = str(exc.__cause__ or "")
    missing = re.match(r"Missing (.+) from \d+:(\d+)$", cause)
    if missing:
        start = int(missing.group(2))
        return SqlTextError(f"syntax error in the dataset's sql: the quote {missing.group(1)} is never closed",
                            offsets=(start, start + 1), code="sql-syntax")
    return SqlTextError(f"syntax error in the dataset's sql: {str(exc).splitlines()[0]}", code="sql-syntax")
