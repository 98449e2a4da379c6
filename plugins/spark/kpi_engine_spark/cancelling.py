"""Stopping a statement's Spark jobs: a label of its own, cancelled until the statement ends.

Each statement's jobs carry a label: a job group on local Spark (its tasks are interrupted when it
is cancelled), an operation tag on Spark Connect. A cancel reaches the jobs running at that moment
only, and Spark plans a query before it starts a job (seconds, on a cold JVM), then may start
several jobs one after the other. So once a statement is told to stop, its label is cancelled again
every quarter of a second until the statement ends: each job is cancelled as it starts.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .errors import spark_errors

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["Statement"]

#: How often a statement told to stop has its jobs cancelled again.
_AGAIN_SECONDS = 0.25
#: The local properties a job group is made of (``SparkContext.setJobGroup``), set around each local statement.
_JOB_GROUP = ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel")


class Statement:
    """One statement's label, and the thread that cancels its jobs once it is told to stop."""

    def __init__(self, session: SparkSession, remote: bool) -> None:
        self.label = f"kpi_engine-{uuid.uuid4().hex}"
        self._session = session
        self._remote = remote
        self._ended = threading.Event()
        self._lock = threading.Lock()
        self._canceller: threading.Thread | None = None

    @contextmanager
    def labelled(self) -> Iterator[None]:
        """The jobs this thread starts meanwhile carry the label (on local Spark, the thread's own job group,
        if it has one, is restored after)."""
        if self._remote:
            self._session.addTag(self.label)
            try:
                yield
            finally:
                self._session.removeTag(self.label)
            return
        context = self._session.sparkContext
        before = [context.getLocalProperty(key) for key in _JOB_GROUP]
        for key, value in zip(_JOB_GROUP, (self.label, "kpi_engine query", "true")):
            context.setLocalProperty(key, value)
        try:
            yield
        finally:
            for key, value in zip(_JOB_GROUP, before):
                context.setLocalProperty(key, value)  # type: ignore[arg-type] - None removes it

    def stop(self) -> None:
        """Cancel the label's jobs now (a failure to reach Spark raises), then again until the statement ends."""
        self._cancel()
        with self._lock:
            if self._canceller is None and not self._ended.is_set():
                self._canceller = threading.Thread(target=self._cancel_until_ended, name="kpi_engine spark cancel",
                                                   daemon=True)
                self._canceller.start()

    def end(self) -> None:
        """The statement is over: no more cancelling (a label is never used again, so a late cancel is harmless)."""
        self._ended.set()
        with self._lock:
            canceller = self._canceller
        if canceller is not None:
            canceller.join(5)

    def _cancel(self) -> None:
        if self._remote:
            self._session.interruptTag(self.label)
        else:
            self._session.sparkContext.cancelJobGroup(self.label)

    def _cancel_until_ended(self) -> None:
        while not self._ended.wait(_AGAIN_SECONDS):
            try:
                self._cancel()
            except spark_errors():  # the JVM or the server is gone: the statement fails by itself
                return
