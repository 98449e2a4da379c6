"""``python -m kpi_engine`` is the ``kpi`` command."""

from .launch import main

main()
