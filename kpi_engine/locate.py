"""Where a project is: the nearest folder at or above the current one with a kpi.yml."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PROJECT_FILE", "find_project"]

PROJECT_FILE = "kpi.yml"


def find_project(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest folder at or above ``start`` with a kpi.yml, else ``start`` itself."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    return here
