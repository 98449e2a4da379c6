"""Results kept in memory for ``serve.cache_ttl`` seconds, per query and per token.

A bounded LRU: at most ``max_entries`` results and ``max_cells`` values in all, the least recently
used going first. An entry also remembers the state (modification time and size) of the database
files its query read: when a DuckDB or SQLite file changes, its entries are stale whatever their
age. ``cache_ttl: 0`` turns the cache off.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

from ..result import Result

__all__ = ["ResultCache", "file_state"]

#: (path, modification time in ns, size) of a database file and of its write-ahead log, if any.
FileState = tuple[tuple[str, int, int], ...]


def file_state(path: Path) -> FileState:
    """What says a database file changed: its own stat and that of its write-ahead log (DuckDB's
    ``.wal``, SQLite's ``-wal``), where one exists. A missing file has a state too (it may appear)."""
    state = []
    for candidate in (path, path.with_name(path.name + ".wal"), path.with_name(path.name + "-wal")):
        try:
            stat = candidate.stat()
        except OSError:
            if candidate == path:
                state.append((str(candidate), -1, -1))
            continue
        state.append((str(candidate), stat.st_mtime_ns, stat.st_size))
    return tuple(state)


@dataclass(frozen=True)
class _Entry:
    result: Result
    stored: float  # the cache's clock when it was stored
    data: tuple[FileState, ...]  # the state of the database files the query read
    cells: int


class ResultCache:
    def __init__(self, max_entries: int = 256, max_cells: int = 5_000_000) -> None:
        self.max_entries = max_entries
        self.max_cells = max_cells
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._cells = 0
        self._lock = threading.Lock()
        self.clock = time.monotonic  # seconds, for ages (a test may set its own)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, ttl: float, data: tuple[FileState, ...]) -> Result | None:
        """The result stored under ``key``, unless it is older than ``ttl`` seconds or a database file it
        read has changed since (then it is dropped)."""
        if ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() - entry.stored > ttl or entry.data != data:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry.result

    def put(self, key: Hashable, result: Result, ttl: float, data: tuple[FileState, ...]) -> None:
        if ttl <= 0:
            return
        cells = max(1, len(result.rows) * max(1, len(result.columns)))
        if cells > self.max_cells:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = _Entry(result, self.clock(), data, cells)
            self._cells += cells
            while len(self._entries) > self.max_entries or self._cells > self.max_cells:
                self._drop(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._cells = 0

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self._cells -= entry.cells
