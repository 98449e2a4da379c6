"""Fixtures of this suite, from kpi_engine.testing (the helpers kpi_engine ships for connector authors).

Imported here rather than taken from the kpi_engine repository, so ``pytest`` runs the same in a
copy of this folder. ``spark_ready`` skips a test unless PySpark and Java are there;
``no_kpi_environment`` (autouse) keeps the developer's own ``KPI_*`` variables out of every test.
"""

from kpi_engine.testing import no_kpi_environment, spark_ready  # noqa: F401 - fixtures: pytest finds them by name
