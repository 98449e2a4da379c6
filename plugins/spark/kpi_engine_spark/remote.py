"""Sessions on a Spark Connect server (``remote: sc://...``): Spark runs elsewhere, not in this process.

The client is PySpark's Spark Connect client (gRPC; ``pip install 'kpi-engine-spark[connect]'``):
no JVM and no Java here. Each connection is a new server-side session
(``create()``), so views stay apart as with ``newSession()``, and ``stop()``
releases it. PySpark retries an unanswered request for about ten minutes by
default; a KPI run gives up after a few seconds instead and says why.
"""

from __future__ import annotations

import atexit
import contextlib
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kpi_engine import SourceError

from .errors import spark_errors

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from .connector import SparkConnector

__all__ = ["masked", "quiet_retries", "release_sessions", "remote_session", "stop_session"]

#: Waits of 0.05, 0.2, 0.8 and 3.2 s between attempts: a server that is restarting gets 4 s.
_RETRIES = 4
_TOKEN = re.compile(r"(;token=)[^;]*", re.IGNORECASE)
_LOCK = threading.Lock()
_OPEN: set[SparkSession] = set()


def masked(url: str) -> str:
    """The URL as shown in messages: an access token is never printed."""
    return _TOKEN.sub(r"\1***", url)


@contextmanager
def quiet_retries() -> Iterator[None]:
    """PySpark warns "[RETRIES_EXCEEDED]" before raising the error that kpi reports anyway."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\[RETRIES_EXCEEDED\]")
        warnings.simplefilter("ignore", FutureWarning)  # its check of the installed pandas version
        yield


def remote_session(connector: SparkConnector, conf: dict[str, str]) -> SparkSession:
    """A new session on the source's Spark Connect server, with the settings it lets a session change."""
    url = connector.options.remote
    assert url is not None
    try:
        with quiet_retries():
            from pyspark.sql.connect.session import SparkSession as RemoteSparkSession
    except ImportError as exc:
        raise SourceError(f"source '{connector.source}' ({connector.describe()}): Spark Connect needs the "
                          f"client libraries of PySpark's connect extra: {exc}",
                          hint="pip install 'kpi-engine-spark[connect]'", code="source") from exc
    session = None
    try:
        with quiet_retries():
            session = RemoteSparkSession.builder.remote(url).create()
            _bound_retries(session)
            for key, value in conf.items():
                if session.conf.isModifiable(key):
                    session.conf.set(key, value)
    except spark_errors() as exc:
        if session is not None:
            with contextlib.suppress(Exception):  # noqa: BLE001 - closing a channel that never opened
                session.client.close()  # else PySpark retries its clean-up calls at exit, for seconds
        raise connector.failure(exc, "cannot reach the Spark Connect server",
                                hint="check 'remote:' in kpi.yml (sc://host:15002) and that the server "
                                     "runs and lets this machine in") from exc
    with _LOCK:
        _OPEN.add(session)
    # The `kpi` command exits without closing its project: the session is released then, before
    # PySpark's own exit hook for this client (registered earlier, so run later) calls the server.
    atexit.register(stop_session, session)
    return session


def _bound_retries(session: SparkSession) -> None:
    """At most a few retries of an unanswered request (PySpark 4; 3.5 keeps its own policy)."""
    try:
        from pyspark.sql.connect.client.retries import DefaultPolicy
    except ImportError:
        return
    session.client.set_retry_policies([DefaultPolicy(max_retries=_RETRIES)])


def stop_session(session: SparkSession) -> None:
    """Release a session on the server and close its channel; once is enough, a failure is no matter."""
    with _LOCK:
        if session not in _OPEN:
            return
        _OPEN.discard(session)
    with quiet_retries():
        try:
            session.stop()  # best effort by design: it logs, never raises, what it cannot release
        except Exception:  # noqa: BLE001 - at exit nothing may be raised
            pass


def release_sessions() -> None:
    """Release every Spark Connect session this process opened (before a server is shut down)."""
    with _LOCK:
        sessions = list(_OPEN)
    for session in sessions:
        stop_session(session)
