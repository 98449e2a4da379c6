"""kpi-engine-example: the ``csv_folder`` connector, a template for writing your own.

Installed, this distribution's entry point (group ``kpi_engine``, see
pyproject.toml) makes kpi_engine import this module and call its hooks; the
one hook here returns the connector class. Everything else is plain Python:
``options.py`` (what kpi.yml may say), ``reading.py`` and ``columns.py`` (the
files), ``connector.py`` (the engine the SQL runs on).
"""

from __future__ import annotations

from kpi_engine import Connector, hookimpl

from .connector import CsvFolderConnection, CsvFolderConnector
from .options import CsvFolderOptions

__all__ = ["CsvFolderConnection", "CsvFolderConnector", "CsvFolderOptions", "register_connectors"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    """kpi_engine's hook: the connector classes this plugin provides (``connector: csv_folder``)."""
    return [CsvFolderConnector]
