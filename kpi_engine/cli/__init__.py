"""The ``kpi`` command: its click commands (``commands``), the executable that tries the compile cache
first (``entry``), the cache itself (``cached_run``) and how results are printed (``output``).

``main`` (the click group) is imported on first use: the executable must be able to answer a cached
run without importing click (see ``entry``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["main"]


def __getattr__(name: str) -> Any:
    if name == "main":
        from .commands import main

        return main
    raise AttributeError(f"module 'kpi_engine.cli' has no attribute '{name}'")
