"""The ``kpi`` executable: the compile cache first, then the full command line."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    from . import cached_run as fastpath

    argv = sys.argv[1:]
    if fastpath.run_cached(argv):
        return
    fastpath.ARGV = argv
    from .commands import main as cli

    cli(prog_name="kpi")
