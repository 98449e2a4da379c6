"""Reopening the database connections of a long-running server now and then.

A DuckDB database keeps memory from the queries it ran: the Python heap of ``kpi serve`` stays flat
(tracemalloc) while its resident memory grows about 1 MB a minute under ever-new queries, and the same
happens running ``project.query`` in a loop without HTTP, or the same fifty queries again and again. It
is not returned by ``malloc_trim`` nor by DuckDB's allocator settings; closing the database returns it.
Reopening every :data:`EVERY_QUERIES` queries keeps the server's memory flat (python bench/http_load.py
--minutes 10) at the cost of one query in that many reading the file again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["EVERY_QUERIES", "Recycler"]

#: Queries between two reopenings (the first query after one reads its data from the file again).
EVERY_QUERIES = 1000


class Recycler:
    """Counts the queries run; after ``every`` of them, closes the project's connections as soon as no
    query runs (a query that starts meanwhile waits for the close, so none loses its connection)."""

    def __init__(self, every: int | None = None) -> None:
        self.every = every or EVERY_QUERIES
        self._lock = threading.Lock()
        self._running = 0
        self._since = 0

    @contextmanager
    def running(self, project: Any) -> Iterator[None]:
        """Around one query of ``project`` (which opens new connections on its next query once closed)."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._since += 1
                if self._running == 0 and self._since >= self.every:
                    self._since = 0
                    project.close()
