"""Fixtures of this suite, from kpi_engine.testing (the helpers kpi_engine ships for connector authors).

Imported here rather than taken from the kpi_engine repository, so ``pytest`` runs the same in a
copy of this folder. ``postgres_dsn`` is the server named by ``TEST_POSTGRES_DSN``, or a throwaway
one started from the machine's PostgreSQL binaries (the tests are skipped when there is neither);
``engine_source`` writes the same tables to DuckDB or PostgreSQL; ``no_kpi_environment`` (autouse)
keeps the developer's own ``KPI_*`` variables out of every test.
"""

from kpi_engine.testing import (  # noqa: F401 - fixtures: pytest finds them by name here
    engine_source,
    no_kpi_environment,
    postgres_dsn,
)
