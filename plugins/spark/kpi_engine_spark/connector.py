"""The ``spark`` connector: KPIs run as Spark SQL, locally or on a cluster.

Tables are the temporary views listed under ``views:`` (Parquet, CSV or JSON
files) or tables of the Spark catalog; ``file:`` datasets read files directly.
SQL is generated in sqlglot's ``spark`` dialect (``compiler.dialects.Spark``).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from sqlglot import exp

from kpi_engine import Connection, Connector, SourceError
from kpi_engine.errors import did_you_mean

from .connection import SparkConnection
from .errors import hint_for, spark_message
from .files import ReadSpec, file_view_name, read_spec
from .options import SparkOptions, ViewSpec
from .remote import masked
from .session import new_session

__all__ = ["SparkConnector"]


class SparkConnector(Connector):
    """``connector: spark``: one Spark session per connection, views registered from kpi.yml's files."""

    name = "spark"
    dialect = "spark"
    Options = SparkOptions
    reads_files = True

    options: SparkOptions

    def __init__(self, options: SparkOptions, *, source: str = "default", base_dir: Path | None = None) -> None:
        super().__init__(options, source=source, base_dir=base_dir)
        self._lock = threading.Lock()
        self._files: dict[str, ReadSpec] = {}

    def describe(self) -> str:
        """``spark local[2]``, ``spark sc://host:15002`` (a token masked)."""
        return f"spark {masked(self.options.remote) if self.options.remote else self.options.master}"

    def connect(self) -> Connection:
        """A new Spark session with the views of kpi.yml registered (Spark started on first use)."""
        views = {name: self._view(spec) for name, spec in self.options.views.items()}
        connection = SparkConnection(self, new_session(self))
        try:
            for name, spec in views.items():
                connection.register(name, spec)
        except SourceError:
            connection.close()
            raise
        return connection

    def _view(self, spec: ViewSpec) -> ReadSpec:
        return read_spec(spec.path, self.base_dir, format=spec.format, options=spec.options)

    def file_relation(self, pattern: str) -> exp.Expression:
        """A ``file:`` dataset reads a temporary view each connection registers before its first query.

        A view rather than ``parquet.`path``` in the SQL: CSV needs header and type inference and JSON
        timestamp inference, which Spark SQL's path syntax cannot ask for.
        """
        spec = read_spec(pattern, self.base_dir)
        name = file_view_name(spec.location)
        with self._lock:
            self._files[name] = spec
        return exp.Table(this=exp.to_identifier(name))

    def file_views(self) -> dict[str, ReadSpec]:
        """The views of the ``file:`` datasets compiled so far."""
        with self._lock:
            return dict(self._files)

    def error_kind(self, exc: BaseException) -> str | None:
        """Spark's error classes: PARSE_SYNTAX_ERROR; ARITHMETIC_OVERFLOW and friends (ANSI mode)."""
        message = spark_message(exc)
        if message.startswith("[PARSE_SYNTAX_ERROR]"):
            return "syntax"
        if re.match(r"\[(ARITHMETIC_OVERFLOW|NUMERIC_VALUE_OUT_OF_RANGE|CAST_OVERFLOW)", message):
            return "overflow"
        return None

    def failure(self, exc: BaseException, what: str = "failed", hint: str | None = None,
                detail: str | None = None) -> SourceError:
        """Spark's error in one line: the first line of its message (or ``detail``), never a Java stack trace."""
        message = detail or spark_message(exc)
        return SourceError(f"source '{self.source}' ({self.describe()}) {what}: {message}",
                           hint=hint or self._hint(message), code="source")

    def _hint(self, message: str) -> str | None:
        """What to check; for a misspelt view, the nearest view of kpi.yml."""
        hint = hint_for(message)
        missing = re.match(r"\[TABLE_OR_VIEW_NOT_FOUND\] The table or view `([^`]+)`", message)
        if hint and missing:
            suggestion = did_you_mean(missing.group(1).split("`.`")[-1], list(self.options.views))
            if suggestion:
                hint = f"did you mean '{suggestion}'? {hint}"
        return hint
