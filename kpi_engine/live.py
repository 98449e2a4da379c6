"""A served project that follows its files: what ``kpi serve`` and ``kpi mcp`` both read.

A server lives longer than one edit of the definitions: every request (HTTP) or tool call (MCP) first
calls :meth:`LiveProject.serving` (or :meth:`LiveProject.current`), which is cheap when nothing
changed: a stat of kpi.yml, of each definition file (the list itself counts, so a file added or
removed is seen) and of each local plugin. When that changes, the files' contents are hashed; when
the contents changed, the project is loaded again and replaces the served one. Files written in the
last two seconds are hashed again on the next request, as a modification time that fine may not move
between two quick writes of the same size.

An edit that does not load (a typo, a broken formula) is kept in :attr:`LiveProject.error`, with its
place in the file, until a later edit loads. What a server does meanwhile is its choice:
:meth:`serving` keeps answering from the last good project (the HTTP API, whose /health then shows
the error), :meth:`current` raises the error (an assistant reports it to the person editing).

The served :class:`~kpi_engine.project.Project` is replaced, never changed: a request holds the
project it started with. Local plugin modules are not reloaded (Python keeps the module it imported):
restart the server after changing one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .definitions.discovery import PROJECT_FILE, definition_paths
from .errors import DefinitionError, KpiError
from .project import Project, load

__all__ = ["LiveProject"]

logger = logging.getLogger("kpi_engine.live")

#: A file modified this recently (seconds) may change again within the same modification time.
RACY_SECONDS = 2.0

_Stat = tuple[tuple[str, int, int], ...]


class LiveProject:
    """The project at ``source`` (a loaded Project, or the path of a folder or kpi.yml to load on first
    use), reloaded when its files change; safe from several threads.

    ``watch=False`` never reloads. ``require_tokens``: a server listening beyond the loopback interface
    must keep ``serve.tokens``; an edit that removes them is refused like a broken one. ``on_change`` is
    called with the new project after each reload (a server empties its caches there).
    """

    def __init__(self, source: Project | str | os.PathLike[str], *, watch: bool = True, require_tokens: bool = False,
                 on_change: Callable[[Project], None] | None = None) -> None:
        self.require_tokens = require_tokens
        self.on_change = on_change
        self.generation = 0
        #: why the files on disk do not load (then the last good project, if any, still serves)
        self.error: KpiError | None = None
        self._lock = threading.Lock()
        self._stat: _Stat = ()
        self._digest: str | None = None  # None: never loaded from this object's files
        self._racy = False
        self._listing: tuple[tuple, tuple[tuple[Path, int], ...], list[Path]] | None = None
        if isinstance(source, Project):
            self._project: Project | None = source
            self.root = _load_target(source)
            self._watched = watch and source.inputs is not None
            self._digest = ""  # loaded already
            if self._watched:
                self._stat, self._racy = self._stat_files()
                self._digest = self._hash(self._stat)
        else:
            self._project = None
            self.root = Path(source)
            self._watched = watch

    @property
    def project(self) -> Project | None:
        """The project served now (the last good one), without looking at the files."""
        return self._project

    @property
    def errors(self) -> list[KpiError]:
        return self.error.errors if self.error is not None else []

    @property
    def degraded(self) -> bool:
        return self.error is not None

    # ---------------------------------------------------------------- watching
    def refresh(self) -> Project:
        """The project to serve this request: reloaded first if its files changed since the last request."""
        return self.serving()[0]

    def serving(self) -> tuple[Project, int]:
        """The last good project, reloaded first if the files changed, with its generation (read together,
        so a result computed on one project is never cached under the generation of the next). Raises the
        load's error only when no load ever succeeded."""
        with self._lock:
            self._follow()
            if self._project is None:
                assert self.error is not None
                raise self.error
            return self._project, self.generation

    def current(self) -> Project:
        """The project as its files are now: the load's error (a KpiError) while they do not load."""
        with self._lock:
            self._follow()
            if self.error is not None:
                raise self.error
            assert self._project is not None
            return self._project

    def _follow(self) -> None:
        if self._digest is None:  # first use of a project given by its path
            self._stat, self._racy = self._stat_files()
            self._digest = self._hash(self._stat)
            self._reload()
            return
        if not self._watched:
            return
        stat, racy = self._stat_files()
        if stat != self._stat or self._racy:
            self._stat, self._racy = stat, racy
            digest = self._hash(stat)
            if digest != self._digest:
                self._digest = digest
                self._reload()

    def _files(self) -> list[Path]:
        """kpi.yml, every definition file and every local plugin: those of the last good load (before
        any, the default ``definitions`` folder)."""
        base = self.root.parent if self.root.is_file() or self.root.suffix in (".yml", ".yaml") else self.root
        inputs = self._project.inputs if self._project is not None else None
        config = self.root if base != self.root else base / PROJECT_FILE
        entries = inputs.definitions if inputs is not None else ["definitions"]
        plugins = inputs.plugins if inputs is not None else []
        return list(dict.fromkeys([config, *self._listed(base, entries), *plugins]))

    def _listed(self, base: Path, entries: list[str]) -> list[Path]:
        """The definition files, listed again only when a folder they are read from changed (a file added
        or removed changes its folder's modification time): a stat per folder instead of a walk."""
        key = (base, tuple(entries))
        if self._listing is not None and self._listing[0] == key and all(
                _mtime(folder) == mtime for folder, mtime in self._listing[1]):
            return self._listing[2]
        folders: list[Path] = []
        for entry in entries:
            path = base / entry if not Path(entry).is_absolute() else Path(entry)
            folders += [path, *(p for p in path.rglob("*") if p.is_dir())] if path.is_dir() else [path.parent]
        stamps = tuple((folder, _mtime(folder)) for folder in folders)  # before listing: a later change is seen
        files = definition_paths(base, entries)
        self._listing = (key, stamps, files)
        return files

    def _stat_files(self) -> tuple[_Stat, bool]:
        """(path, mtime, size) of each file read (a missing one is (path, -1, -1)), and whether one of them
        was modified too recently to trust its modification time."""
        now = time.time_ns()
        found = []
        racy = False
        for path in self._files():
            try:
                stat = path.stat()
            except OSError:
                found.append((str(path), -1, -1))
                continue
            found.append((str(path), stat.st_mtime_ns, stat.st_size))
            racy = racy or now - stat.st_mtime_ns < RACY_SECONDS * 1e9
        return tuple(found), racy

    @staticmethod
    def _hash(stat: _Stat) -> str:
        digest = hashlib.sha256()
        for path, _, size in stat:
            digest.update(f"{path}\0{size}\0".encode())
            try:
                digest.update(Path(path).read_bytes())
            except OSError:
                digest.update(b"\0missing")
        return digest.hexdigest()

    # --------------------------------------------------------------- reloading
    def _reload(self) -> None:
        try:
            project = load(self.root)
        except KpiError as error:
            self.error = error
            if self._project is not None:
                logger.warning("the definitions changed but do not load:\n%s", error.render())
            return
        except Exception:  # a bug while loading: keep serving, and say so
            logger.exception("loading the definitions failed")
            self.error = KpiError("loading the definitions failed: the server's log has the details", code="internal")
            return
        if self.require_tokens and not project.config.serve.tokens:
            project.close()
            self.error = DefinitionError(
                "serve.tokens was removed, but this server listens beyond the loopback interface: still serving "
                "the previous definitions and tokens; restore serve.tokens, or restart kpi serve on 127.0.0.1",
                code="serve-tokens")
            logger.warning("%s", self.error.message)
            return
        first = self._project is None
        self._project = project  # the previous one is dropped, not closed: a request may still be using it
        self.error = None
        if not first:
            self.generation += 1
            logger.info("definitions reloaded: %d KPIs", len(project.catalog.kpis))
            if self.on_change is not None:
                self.on_change(project)
        if [str(path) for path in self._files()] != [entry[0] for entry in self._stat]:
            # the load changed which files are read (kpi.yml's definitions:): watch those from now on
            self._stat, self._racy = self._stat_files()
            self._digest = self._hash(self._stat)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def _load_target(project: Project) -> Path:
    """What to load a project again from: its kpi.yml when it has another name, else its folder."""
    inputs = project.inputs
    if inputs is not None and inputs.config.name != PROJECT_FILE and inputs.config.is_file():
        return inputs.config
    return project.root
