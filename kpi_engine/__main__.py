"""``python -m kpi_engine`` is the ``kpi`` command."""

from .cli.entry import main

main()
