"""The project an MCP server serves, loaded again when its files change.

An assistant's session lasts as long as the chat, and the person in it may be editing the
definitions it reads: every tool call first compares the project's files (kpi.yml, every
definition file, the definition folders, local plugins) by size and modification time with
those of the last load, and loads again when one differs. A load that fails is the answer to
every call until the files change again: the assistant then reports the error, with its
file:line:col, to the person editing, instead of answering from definitions they replaced.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..definitions.discovery import PROJECT_FILE, definition_paths
from ..errors import KpiError

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["LiveProject"]

_Stamp = tuple[tuple[str, int, int], ...]


class LiveProject:
    """``get()`` is the project at ``root`` as its files are now (safe from several threads)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._stamp: _Stamp | None = None
        self._project: Project | None = None
        self._error: KpiError | None = None
        #: what the last good load read besides kpi.yml, watched even while a later load fails
        self._entries: list[str] = ["definitions"]
        self._plugins: list[Path] = []

    def get(self) -> Project:
        """The loaded project; the load's error (a KpiError) when the files do not load."""
        with self._lock:
            stamp = self._files_stamp()
            if stamp != self._stamp:
                watched = (self._entries, self._plugins)
                self._load()
                # the files as they were before the load, so one written while it read them is read again
                # next time; unless the load changed which files are watched (kpi.yml's definitions:)
                self._stamp = stamp if (self._entries, self._plugins) == watched else self._files_stamp()
            if self._error is not None:
                raise self._error
            assert self._project is not None
            return self._project

    def _load(self) -> None:
        """Load again. The previous project is dropped, not closed: another call may still be
        querying it, and its connections close when it is collected."""
        from ..project import load

        self._project, self._error = None, None
        try:
            self._project = load(self.root)
        except KpiError as error:
            self._error = error
            return
        self._entries = list(self._project.config.definitions)
        self._plugins = list(self._project.inputs.plugins) if self._project.inputs is not None else []

    def _files_stamp(self) -> _Stamp:
        """(path, size, mtime) of everything a load reads; a missing file is (path, -1, -1)."""
        base = self.root.parent if self.root.is_file() else self.root
        paths = [self.root if self.root.is_file() else base / PROJECT_FILE]
        paths += [base / entry for entry in self._entries]  # a folder's time changes when a file is added
        paths += definition_paths(base, self._entries)
        paths += self._plugins
        return tuple(_stat(path) for path in dict.fromkeys(paths))


def _stat(path: Path) -> tuple[str, int, int]:
    try:
        info = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), info.st_size, info.st_mtime_ns)
