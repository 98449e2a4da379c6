"""The process's one Spark application, and a fresh Spark session for each connection.

A process runs at most one SparkContext (a JVM, executors, a master URL). It is
started on first use with the source's ``master`` and ``conf`` — or the one the
process already runs (a notebook's, another source's) is reused — and it is
never stopped by kpi_engine: starting one takes seconds, and it may not be ours.
Each connection gets its own ``newSession()``: separate temporary views and SQL
settings over the shared context, so the views of two projects never clash.

Spark is imported here, on first connect, never when the plugin is loaded:
``kpi list`` must not pay for it.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from kpi_engine import SourceError

from .errors import spark_errors
from .jvm_output import filtered_stderr
from .remote import remote_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from .connector import SparkConnector

__all__ = ["check_master", "new_session"]

_LOCK = threading.Lock()
_LOG4J = Path(__file__).with_name("log4j2.properties")

#: Settings kpi_engine gives Spark unless kpi.yml sets them (why: see the docs of each).
_APP_DEFAULTS = {
    "spark.ui.showConsoleProgress": "false",  # a progress bar on stderr would garble `kpi run` output
}
#: Timestamps without a time zone (DuckDB's TIMESTAMP in Parquet) keep their wall-clock values only when
#: casts to Spark's TIMESTAMP do not shift them: UTC has no daylight saving gaps or overlaps.
_SESSION_DEFAULTS = {"spark.sql.session.timeZone": "UTC"}

_MASTER = re.compile(
    r"local(\[(\d+|\*)(,\s*\d+)?\])?"  # local, local[4], local[*], local[4,2] (with retries)
    r"|local-cluster\[\d+,\s*\d+,\s*\d+\]"  # local-cluster[workers, cores, memory MB]
    r"|yarn"
    r"|(spark|k8s)://\S+"  # spark://host:7077 (or several masters, comma-separated), k8s://https://host:443
)
_MASTER_HINT = "use local[*], local[N], spark://host:7077, yarn or k8s://https://host:port"


def check_master(connector: SparkConnector) -> None:
    """A master URL Spark cannot parse is a source failure named before a JVM is started for nothing."""
    master = connector.options.master
    if not _MASTER.fullmatch(master):
        raise SourceError(f"source '{connector.source}' ({connector.describe()}): '{master}' is not a Spark master "
                          f"URL; {_MASTER_HINT}", hint="check 'master:' in kpi.yml", code="source")


def new_session(connector: SparkConnector) -> SparkSession:
    """A new session of the process's Spark application (started if needed), with the source's settings.

    With ``remote:``, a new session of the Spark Connect server instead.
    """
    conf = {**_SESSION_DEFAULTS, **connector.options.conf_text()}
    if connector.options.remote is None:
        check_master(connector)
    _quiet_pyspark()
    if connector.options.remote is not None:
        return remote_session(connector, conf)
    return _local_session(connector, conf)


@functools.cache
def _quiet_pyspark() -> None:
    """Once per process: what PySpark would print on stderr besides kpi's own message."""
    with warnings.catch_warnings():
        # PySpark warns about untested pandas versions when it converts values; kpi does not use pandas here.
        warnings.simplefilter("ignore", FutureWarning)
        with contextlib.suppress(ImportError):
            import pyspark.testing.utils  # noqa: F401 - imported once, quietly
    try:
        from pyspark.logger import PySparkLogger  # PySpark 4
    except ImportError:  # PySpark 3.5 has no such loggers
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        # They print each failed query's Java stack trace as JSON on stderr; the error is reported by kpi.
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL + 1)


def _local_session(connector: SparkConnector, conf: dict[str, str]) -> SparkSession:
    """A ``newSession()`` of the SparkContext of this process: the running one, or one started now."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    with _LOCK:
        context = SparkContext._active_spark_context
        if context is None:
            base = _start(connector)
        else:
            _check_same_master(connector, context.master)
            base = SparkSession._instantiatedSession or SparkSession(context)
        try:
            session = base.newSession()
            for key, value in conf.items():
                if session.conf.isModifiable(key):
                    session.conf.set(key, value)
        except spark_errors() as exc:
            raise connector.failure(exc, "cannot start a session") from exc
    return session


def _check_same_master(connector: SparkConnector, running: str) -> None:
    """One Spark application per process: a source that asks for another master cannot have it here."""
    wanted = connector.options.master
    if "master" in connector.options.model_fields_set and wanted != running:
        raise SourceError(
            f"source '{connector.source}' ({connector.describe()}): this process already runs Spark with master "
            f"'{running}', and a process runs one Spark application",
            hint="leave 'master:' out of kpi.yml to use the running Spark, or run kpi in its own process",
            code="source")


def _start(connector: SparkConnector) -> SparkSession:
    """Start the Spark application: Java checked first, logs quiet, the source's master and settings."""
    _check_java(connector)
    from pyspark.sql import SparkSession

    conf = {**_APP_DEFAULTS, **connector.options.conf_text()}
    if "spark.sql.warehouse.dir" not in conf and conf.get("spark.sql.catalogImplementation") != "hive":
        # Spark creates its warehouse folder (default: ./spark-warehouse) the first time it looks a table
        # up in its catalog, e.g. a misspelt view: not in the user's project folder.
        conf["spark.sql.warehouse.dir"] = _scratch_warehouse().as_uri()
    java_options = conf.get("spark.driver.extraJavaOptions", "")
    if "log4j2.configurationFile" not in java_options:
        # Spark logs every failed query with its Java stack trace: kpi reports the error itself, in one line.
        conf["spark.driver.extraJavaOptions"] = f"{java_options} -Dlog4j2.configurationFile={_LOG4J.as_uri()}".strip()
    builder = SparkSession.builder.master(connector.options.master).appName(f"kpi_engine {connector.source}")
    for key, value in conf.items():
        builder = builder.config(key, value)
    with filtered_stderr() as jvm:  # the JVM started here writes its stderr through a filter, for good
        try:
            return builder.getOrCreate()
        except spark_errors() as exc:
            failed = exc
    raise connector.failure(failed, "cannot start Spark", detail=jvm.reason(),
                            hint="check 'master:' and 'conf:' in kpi.yml, and that Java 17 or 21 runs "
                                 "(java -version)") from failed


def _scratch_warehouse() -> Path:
    """A folder of this user under the temporary directory, the same for every run."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a name
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"kpi_engine_spark_{user}" / "warehouse"


def _check_java(connector: SparkConnector) -> None:
    """Without Java, PySpark fails with a gateway error; say what is missing instead."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        if not (Path(java_home) / "bin" / "java").exists():
            raise SourceError(f"source '{connector.source}' ({connector.describe()}): Spark needs Java, and "
                              f"JAVA_HOME={java_home} has no bin/java",
                              hint="set JAVA_HOME to a Java 17 or 21 installation, or unset it to use java on PATH",
                              code="source")
    elif shutil.which("java") is None:
        raise SourceError(f"source '{connector.source}' ({connector.describe()}): Spark needs Java, and there is no "
                          "java on PATH and no JAVA_HOME",
                          hint="install Java 17 or 21 (e.g. apt-get install openjdk-17-jre-headless), or set "
                               "JAVA_HOME", code="source")
