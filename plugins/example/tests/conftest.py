"""Fixtures of this suite, from kpi_engine.testing (the helpers kpi_engine ships for connector authors).

Imported here rather than taken from the kpi_engine repository, so ``pytest`` runs the same in a
copy of this folder. ``no_kpi_environment`` (autouse) keeps the developer's own ``KPI_*`` variables
out of every test and of the ``kpi`` processes they start.
"""

from kpi_engine.testing import no_kpi_environment  # noqa: F401 - a fixture: pytest finds it by name here
