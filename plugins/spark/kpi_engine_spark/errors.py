"""Spark's exceptions as one line a person can act on.

PySpark raises its own exceptions for errors it recognises (``[TABLE_OR_VIEW_NOT_FOUND] ...``)
and py4j's for the rest, whose text starts with "An error occurred while calling o42.sql"
and goes on with a Java stack trace; Spark Connect's gRPC errors print as
``<_InactiveRpcError of RPC that terminated with: ... details = "..."``. Only the
first line of the actual message is kept.
"""

from __future__ import annotations

import re

__all__ = ["hint_for", "spark_errors", "spark_message"]

_JAVA_CLASS = re.compile(r"^(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error): ")
_GRPC_DETAILS = re.compile(r'^<_\w+ of RPC that terminated with:.*?details = "([^"\n]*)"', re.S)
_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+[;.]?.*$")

_HINTS = {
    "TABLE_OR_VIEW_NOT_FOUND": "a table: dataset reads a view listed under 'views:' in kpi.yml, or a table of "
                               "the Spark catalog",
    "PATH_NOT_FOUND": "relative paths are relative to kpi.yml; on a cluster every executor (with remote:, the "
                      "server) must reach the path: HDFS, S3, a shared disk",
    "JAVA_GATEWAY_EXITED": "Spark needs Java 17 or 21: check `java -version` and JAVA_HOME",
}


def spark_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "Spark failed" (imported on use: the plugin loads without Spark)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError)


def spark_message(exc: BaseException) -> str:
    """The first line of what Spark says, without the Java class name, SQLSTATE or stack trace."""
    text = ""
    java = getattr(exc, "java_exception", None)
    if java is not None:  # a raw Py4JJavaError: its own text is "An error occurred while calling ..."
        try:
            text = str(java.getMessage() or java.toString())
        except Exception:  # the JVM may be gone
            text = ""
    if not text:
        text = str(exc)
    details = _GRPC_DETAILS.search(text)
    if details:  # Spark Connect: '<_InactiveRpcError of RPC that terminated with: ... details = "..."'
        text = details.group(1)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return _SQLSTATE.sub("", _JAVA_CLASS.sub("", first)).rstrip()


def hint_for(message: str) -> str | None:
    """What to check for the errors users cause most (a misspelt view, a wrong path, no Java)."""
    match = re.match(r"\[([A-Z_]+)", message)
    return _HINTS.get(match.group(1)) if match else None
