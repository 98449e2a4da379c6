"""kpi_engine plugin: the ``postgres`` connector (psycopg 3), read-only.

Installed as the distribution ``kpi-engine-postgres``, found by kpi_engine
through the ``kpi_engine`` entry-point group. In kpi.yml::

    sources:
      warehouse:
        connector: postgres
        dsn: ${WAREHOUSE_DSN}
        schema: analytics
        statement_timeout: 30s

psycopg itself is imported only when a PostgreSQL source is used, so the
plugin costs nothing to projects that do not use one.
"""

from __future__ import annotations

from kpi_engine import Connector, hookimpl

from .connector import PostgresConnection, PostgresConnector
from .options import PostgresOptions

__all__ = ["PostgresConnection", "PostgresConnector", "PostgresOptions", "register_connectors"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [PostgresConnector]
