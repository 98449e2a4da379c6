"""Live definitions: every request sees the definition files as they are on disk.

Each request first calls :meth:`LiveProject.refresh`, which is cheap when nothing changed: a stat of
kpi.yml and of each definition file, and the list of those files (a file added or removed counts).
When that changes, the files' contents are hashed; when the contents changed, the project is loaded
again and replaces the served one. An edit that does not load (a typo, a broken formula) keeps the last
good project serving and makes the server *degraded*: /health shows the errors until a later edit
loads. Files written in the last two seconds are hashed again on the next request, as a modification
time that fine may not move between two quick writes of the same size.

The served :class:`~kpi_engine.project.Project` is replaced, never changed: a request holds the project
it started with. Local plugin modules are not reloaded (Python keeps the module it imported): restart
``kpi serve`` after changing one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..definitions.discovery import PROJECT_FILE, definition_paths
from ..errors import DefinitionError, KpiError
from ..project import Project, load

__all__ = ["LiveProject"]

logger = logging.getLogger("kpi_engine.http")

#: A file modified this recently (seconds) may change again within the same modification time.
RACY_SECONDS = 2.0


class LiveProject:
    """The project being served, reloaded when its files change.

    ``require_tokens``: a server listening beyond the loopback interface must keep ``serve.tokens``; an
    edit that removes them is refused like a broken one. ``on_change`` is called with the new project
    after each reload (the result cache is emptied there).
    """

    def __init__(self, project: Project, *, watch: bool = True, require_tokens: bool = False,
                 on_change: Callable[[Project], None] | None = None) -> None:
        self._project = project
        self.generation = 0
        self.errors: list[KpiError] = []
        self.require_tokens = require_tokens
        self.on_change = on_change
        self._lock = threading.Lock()
        self._watched = watch and project.inputs is not None
        self._stat: tuple = ()
        self._digest = ""
        self._racy = False
        if self._watched:
            self._stat, self._racy = self._stat_files()
            self._digest = self._hash(self._stat)

    @property
    def project(self) -> Project:
        return self._project

    @property
    def degraded(self) -> bool:
        return bool(self.errors)

    # ---------------------------------------------------------------- watching
    def refresh(self) -> Project:
        """The project to serve this request: reloaded first if its files changed since the last request."""
        return self.serving()[0]

    def serving(self) -> tuple[Project, int]:
        """:meth:`refresh`, with the generation of the project returned (read together, so a result
        computed on one project is never cached under the generation of the next)."""
        if not self._watched:
            return self._project, self.generation
        with self._lock:
            stat, racy = self._stat_files()
            if stat != self._stat or self._racy:
                self._stat, self._racy = stat, racy
                digest = self._hash(stat)
                if digest != self._digest:
                    self._digest = digest
                    self._reload()
            return self._project, self.generation

    def _files(self) -> list[Path]:
        inputs = self._project.inputs
        assert inputs is not None
        return [inputs.config, *definition_paths(self._project.root, inputs.definitions)]

    def _stat_files(self) -> tuple[tuple, bool]:
        """(path, mtime, size) of kpi.yml and every definition file (the list itself included), and whether
        one of them was modified too recently to trust its modification time."""
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
    def _hash(stat: tuple) -> str:
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
        inputs = self._project.inputs
        assert inputs is not None
        target: Any = inputs.config if inputs.config.name != PROJECT_FILE and inputs.config.is_file() \
            else self._project.root
        try:
            project = load(target)
        except KpiError as error:
            self.errors = error.errors
            logger.warning("the definitions changed but do not load; still serving the previous ones:\n%s",
                           error.render())
            return
        except Exception:  # a bug while loading: keep serving, and say so
            logger.exception("reloading the definitions failed; still serving the previous ones")
            self.errors = [KpiError("reloading the definitions failed: the server's log has the details",
                                    code="internal")]
            return
        if self.require_tokens and not project.config.serve.tokens:
            project.close()
            self.errors = [DefinitionError(
                "serve.tokens was removed, but this server listens beyond the loopback interface: still serving "
                "the previous definitions and tokens; restore serve.tokens, or restart kpi serve on 127.0.0.1",
                code="serve-tokens")]
            logger.warning("%s", self.errors[0].message)
            return
        self._project = project
        self.errors = []
        self.generation += 1
        logger.info("definitions reloaded: %d KPIs", len(project.catalog.kpis))
        if self.on_change is not None:
            self.on_change(project)
