"""Where a project is: the nearest folder at or above the current one with a kpi.yml."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PROJECT_FILE", "definition_paths", "find_project"]

PROJECT_FILE = "kpi.yml"


def find_project(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest folder at or above ``start`` with a kpi.yml, else ``start`` itself."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return here


def definition_paths(root: Path, entries: Iterable[str]) -> list[Path]:
    """The YAML files named by ``definitions:`` that exist (folders read recursively, in a stable order).

    Shared by the loader and the command's compile cache, which must see the same files.
    """
    files: list[Path] = []
    for entry in entries:
        path = (root / entry).resolve() if not Path(entry).is_absolute() else Path(entry)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()))
        elif path.is_file():
            files.append(path)
    return list(dict.fromkeys(files))
