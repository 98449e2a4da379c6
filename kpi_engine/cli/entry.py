"""The ``kpi`` executable: the compile cache first, then the full command line."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Answer from the compile cache, else run the click commands, handing them the command line
    in ``ctx.obj["argv"]``: ``kpi run`` stores its answer under it (driven otherwise, e.g. by
    click's test runner, a command has no command line and nothing is cached)."""
    from .cached_run import run_cached

    argv = sys.argv[1:]
    if run_cached(argv):
        return
    from .commands import main as cli

    cli.main(prog_name="kpi", obj={"argv": argv})  # click reads the same sys.argv[1:]
