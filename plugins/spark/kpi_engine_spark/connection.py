"""One thread's Spark session: its temporary views, read-only queries, and Python values back.

Spark plans and runs each query on its executors; only the result rows come
back here (``collect()``), and kpi's queries return aggregated rows: one per
period and dimension value.

Each statement's Spark jobs carry a label of their own (``cancelling.Statement``):
``interrupt()`` cancels that label's jobs (a query past its time limit), and nothing else
of the application.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from kpi_engine import Connection, SourceError

from .cancelling import Statement
from .errors import spark_errors
from .files import ReadSpec, matches
from .readonly import refusal
from .remote import quiet_retries, stop_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from .connector import SparkConnector

__all__ = ["SparkConnection"]


class SparkConnection(Connection):
    """A Spark session of its own (``newSession()``): views registered here are seen by no other project."""

    connector: SparkConnector

    def __init__(self, connector: SparkConnector, session: SparkSession) -> None:
        super().__init__(connector)
        self.errors = spark_errors()
        self._session = session
        self._views: set[str] = set()
        #: On a Spark Connect server, paths are the server's: nothing to check on this machine.
        self._remote = connector.options.remote is not None
        #: The running statement, with the label of its jobs (None between statements).
        self._statement: Statement | None = None

    # ------------------------------------------------------------------ views
    def register(self, name: str, spec: ReadSpec, *, kind: str = "view") -> None:
        """Make ``spec``'s data the temporary view ``name`` of this session."""
        where = f"{kind} '{name}'" if kind == "view" else f"file dataset '{spec.written}'"
        if spec.local and not self._remote and not matches(spec.location):
            raise SourceError(f"source '{self.connector.source}' ({self.connector.describe()}): {where}: no file "
                              f"matches {spec.written}",
                              hint="relative paths are relative to kpi.yml; check the file name and extension",
                              code="source")
        try:
            with self._quiet():
                frame = self._session.read.format(spec.format).options(**spec.options).load(spec.location)
                frame.createOrReplaceTempView(name)
        except self.errors as exc:
            raise self.connector.failure(exc, f"cannot read {where} from {spec.written}") from exc
        self._views.add(name)

    def _register_file_views(self) -> None:
        """``file:`` datasets compiled since this session opened (``Connector.file_relation``)."""
        for name, spec in self.connector.file_views().items():
            if name not in self._views:
                self.register(name, spec, kind="file")

    # ---------------------------------------------------------------- queries
    def _frame(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any]) -> DataFrame:
        """The query as a DataFrame, refused before Spark sees it when it is not a read-only query."""
        reason = refusal(sql)
        if reason is not None:
            raise SourceError(f"source '{self.connector.source}' ({self.connector.describe()}) refused {reason}",
                              hint="a Spark source is read-only: it runs SELECT queries only", code="source")
        self._register_file_views()
        if not parameters:
            return self._session.sql(sql)
        # ? markers take a list, :name markers a mapping (Spark 3.5+)
        args = dict(parameters) if isinstance(parameters, Mapping) else list(parameters)
        return self._session.sql(sql, args=args)

    def _quiet(self) -> AbstractContextManager[None]:
        """Spark Connect's retry warnings silenced (not around local queries: warning filters are global)."""
        return quiet_retries() if self._remote else nullcontext()

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """The statement under a label of its own, from before it starts until its rows are back."""
        statement = self._statement = Statement(self._session, self._remote)
        try:
            return super().execute(sql, parameters)
        finally:
            self._statement = None
            statement.end()

    def _execute(self, sql: str, parameters: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        statement = self._statement
        with self._quiet(), statement.labelled() if statement is not None else nullcontext():
            frame = _wall_clock(self._frame(sql, parameters))
            return list(frame.columns), [tuple(row) for row in frame.collect()]

    def interrupt(self) -> bool:
        """Cancel the running statement's jobs: ``cancelJobGroup`` on local Spark (its tasks are interrupted),
        ``interruptTag`` on Spark Connect, now and until the statement ends (``cancelling``). The label is
        the statement's own, so a call that comes as the statement ends cancels nothing else."""
        statement = self._statement
        if statement is not None:
            statement.stop()
        return True

    def columns(self, relation_sql: str) -> list[str]:
        """The columns from Spark's analysis of the query: no job runs, no row is read."""
        try:
            with self._quiet():
                return list(self._frame(f"SELECT * FROM ({relation_sql}) AS kpi_probe", ()).columns)
        except self.errors as exc:
            raise self.connector.failure(exc) from exc

    def column_kinds(self, relation_sql: str) -> dict[str, str]:
        """From Spark's analysis of the query (no job runs): TIMESTAMP_NTZ is a naive wall time, TIMESTAMP an
        instant (Parquet's timestamps adjusted to UTC, DuckDB's TIMESTAMPTZ), DATE a calendar date."""
        from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

        kinds = {TimestampNTZType: "timestamp", TimestampType: "timestamptz", DateType: "date"}
        try:
            with self._quiet():
                fields = self._frame(f"SELECT * FROM ({relation_sql}) AS kpi_probe", ()).schema.fields
        except self.errors as exc:
            raise self.connector.failure(exc) from exc
        return {f.name: kinds[type(f.dataType)] for f in fields if type(f.dataType) in kinds}

    def close(self) -> None:
        """Drop this session's views; the Spark application stays up for the process's other sources.

        A Spark Connect session is released on the server (``stop()`` ends the session, not the server).
        """
        with self._quiet():
            for name in sorted(self._views):
                try:
                    self._session.catalog.dropTempView(name)
                except self.errors:  # the JVM or the server may already be gone
                    pass
            self._views.clear()
        if self._remote:
            stop_session(self._session)


def _wall_clock(frame: DataFrame) -> DataFrame:
    """TIMESTAMP columns as TIMESTAMP_NTZ, so Python gets the session time zone's wall clock.

    PySpark turns a TIMESTAMP into a datetime in the Python process's own local
    time zone, which would make a result depend on the machine's TZ setting;
    TIMESTAMP_NTZ arrives as written.
    """
    from pyspark.sql.types import TimestampType

    fields = frame.schema.fields
    if not any(isinstance(f.dataType, TimestampType) for f in fields):
        return frame
    names = [f.name for f in fields]
    positional = frame.toDF(*(f"c{i}" for i in range(len(fields))))  # duplicate names stay apart
    return positional.select(*(
        positional[f"c{i}"].cast("timestamp_ntz").alias(name) if isinstance(f.dataType, TimestampType)
        else positional[f"c{i}"].alias(name)
        for i, (f, name) in enumerate(zip(fields, names))))
