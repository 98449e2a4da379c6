"""Time limits on queries: a statement past its limit is stopped on the engine, and the caller told.

``Project.query(..., timeout=)`` gives the whole query a :class:`Deadline`, and each statement of
the query runs through :func:`execute_within`. The statement runs in a helper thread while the
calling thread waits for it, so the caller gets an answer when the limit passes whatever the engine
does:

1. the statement ends in time: its columns and rows (or its error), as from ``Connection.execute``;
2. the limit passes: the calling thread asks the connection to stop the statement
   (``Connection.interrupt()``) and waits up to :data:`GRACE_SECONDS` for ``execute()`` to give up,
   asking again every :data:`AGAIN_SECONDS` (an engine may miss a first interrupt that came as the
   statement was starting, and Spark may start another job); then a QueryTimeoutError "... was
   cancelled", the connection ready for the next statement;
3. the connection cannot be told to stop (the default ``interrupt()``), or the statement still runs
   after the grace period: a QueryTimeoutError that says so, at once. The connection is left to the
   statement (``forget``: the thread's next query opens a new one) and closed when it ends.

``interrupt()`` is called under the statement's lock and only while ``execute()`` has not returned,
so a statement that finished is never interrupted late. The engine may still be finishing it at that
instant: each connector makes such an interrupt harmless to the next statement.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import KpiError, QueryError, QueryTimeoutError
from .base import Connection

__all__ = ["AGAIN_SECONDS", "GRACE_SECONDS", "Deadline", "execute_within"]

#: How long an interrupted statement may take to stop before kpi_engine stops waiting for it.
GRACE_SECONDS = 5.0
#: How often the statement is told again to stop while kpi_engine waits for it.
AGAIN_SECONDS = 0.5

_HINT = ("raise serve.timeout in kpi.yml (or the timeout= of query()), or narrow the query: fewer periods "
         "(start/end), dimensions or KPIs")

Rows = tuple[list[str], list[tuple]]


@dataclass(frozen=True)
class Deadline:
    """A query's time limit: the seconds the caller gave, and the monotonic clock reading when they are up."""

    seconds: float
    until: float

    @classmethod
    def after(cls, seconds: float | None) -> Deadline | None:
        """The deadline ``seconds`` from now; None (no limit) for None. Anything but a positive number is an error."""
        if seconds is None:
            return None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
                or seconds <= 0:
            raise QueryError(f"timeout must be a positive number of seconds, not {seconds!r}", code="bad-timeout")
        return cls(float(seconds), time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.until - time.monotonic()


def execute_within(connection: Connection, sql: str, deadline: Deadline | None,
                   forget: Callable[[], None] = lambda: None) -> Rows:
    """``connection.execute(sql)``, stopped on the engine and answered with a QueryTimeoutError past ``deadline``.

    ``forget`` is called when the statement cannot be stopped: the connection must never be handed
    out again (the statement closes it when it ends).
    """
    if deadline is None:
        return connection.execute(sql)
    remaining = deadline.remaining()
    if remaining <= 0:  # the query's earlier statements used the time: this one does not start
        raise _timeout(deadline, connection, "cancelled")
    statement = _Statement(connection, sql)
    try:
        state = _wait_or_stop(statement, remaining)
    except BaseException:  # Ctrl-C while waiting: the engine stops too, and the connection is not reused
        statement.interrupt()
        statement.abandon(forget)
        raise
    if state == "ended":
        return statement.outcome()
    if state == "stopped":
        return statement.outcome_after_interrupt(deadline)
    statement.abandon(forget)
    raise _timeout(deadline, connection, state) from statement.interrupt_error


def _wait_or_stop(statement: _Statement, seconds: float) -> str:
    """How the statement ended: "ended" by itself (in time, or as the limit passed), "stopped" when told to,
    or why it still runs: it "cannot" be told to stop, or it is still "running" after the grace period."""
    if statement.wait(seconds):
        return "ended"
    told = statement.interrupt()
    if told is None:
        statement.wait(None)  # its thread is ending
        return "ended"
    if not told:
        return "cannot"
    for _ in range(round(GRACE_SECONDS / AGAIN_SECONDS)):
        if statement.wait(AGAIN_SECONDS):
            return "stopped"
        statement.interrupt()  # again: what began since the last time (a statement, a Spark job) stops too
    return "running"


class _Runner:
    """A helper thread that runs statements one after another. Idle ones are kept (up to :data:`IDLE_RUNNERS`):
    starting a thread for each statement cost about 0.35 ms a statement (``execute_within`` timed with and
    without, on DuckDB), part of what the HTTP API adds to every query."""

    _idle: list[_Runner] = []
    _lock = threading.Lock()

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="kpi_engine statement", daemon=True).start()

    @classmethod
    def take(cls) -> _Runner:
        with cls._lock:
            if cls._idle:
                return cls._idle.pop()
        return cls()

    def start(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def _loop(self) -> None:
        while True:
            self._jobs.get()()  # the job hands its own errors to the thread that waits for it
            with self._lock:
                if len(self._idle) >= IDLE_RUNNERS:
                    return
                self._idle.append(self)


#: Helper threads kept waiting for the next statement.
IDLE_RUNNERS = 8


class _Statement:
    """One statement running in a helper thread, and the lock that keeps an interrupt from coming late."""

    def __init__(self, connection: Connection, sql: str) -> None:
        self.connection = connection
        self.interrupt_error: Exception | None = None
        self._sql = sql
        self._lock = threading.Lock()
        self._running = True
        self._abandoned = False
        self._rows: Rows | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        _Runner.take().start(self._run)

    def _run(self) -> None:
        try:
            self._rows = self.connection.execute(self._sql)
        except BaseException as exc:  # handed to the waiting thread, which raises it
            self._error = exc
        finally:
            with self._lock:
                self._running = False
                abandoned = self._abandoned
            self._done.set()
            if abandoned:
                _close_quietly(self.connection)

    def wait(self, seconds: float | None) -> bool:
        """Whether the statement ended within ``seconds`` (None: however long it takes)."""
        return self._done.wait(seconds)

    def interrupt(self) -> bool | None:
        """Tell the connection to stop the statement: whether it could, or None when it has already ended."""
        with self._lock:
            if not self._running:
                return None
            try:
                return bool(self.connection.interrupt())
            except Exception as exc:  # a connector's failure to cancel: the statement runs on, the error says so
                self.interrupt_error = exc
                return False

    def abandon(self, forget: Callable[[], None]) -> None:
        """Leave the connection to the running statement: never used again, closed when the statement ends."""
        with self._lock:
            if not self._running:
                return  # it ended after all: the connection is free again
            self._abandoned = True
        forget()

    def outcome(self) -> Rows:
        """The statement's rows, or its error raised."""
        if self._error is not None:
            raise self._error
        assert self._rows is not None
        return self._rows

    def outcome_after_interrupt(self, deadline: Deadline) -> Rows:
        """An error after the interrupt is the engine giving up: the time limit, not a failure of the source.

        Rows are rows: the statement finished as it was told to stop."""
        if isinstance(self._error, KpiError):
            raise _timeout(deadline, self.connection, "cancelled") from self._error
        return self.outcome()


def _timeout(deadline: Deadline, connection: Connection, what: str) -> QueryTimeoutError:
    limit = f"{deadline.seconds:g} s"
    connector = connection.connector
    source = f"source '{connector.source}' ({connector.describe()})"
    message = {
        "cancelled": f"the query ran longer than {limit} and was cancelled",
        "cannot": f"the query ran longer than {limit}; {source} could not be told to stop it, so the engine may "
                  "still be working on it",
        "running": f"the query ran longer than {limit}; {source} was told to stop it but still ran it "
                   f"{GRACE_SECONDS:g} s later, so the engine may still be working on it",
    }[what]
    return QueryTimeoutError(message, hint=_HINT)


def _close_quietly(connection: Connection) -> None:
    try:
        connection.close()
    except Exception:  # closing a connection nobody uses any more is best effort
        pass
