"""kpi_engine plugin: the ``spark`` connector (``pip install kpi-engine-spark``).

Found through the ``kpi_engine`` entry point. Importing it does not import
PySpark: that happens when a Spark source is first queried, so ``kpi list``
and ``kpi compile`` stay instant.
"""

from __future__ import annotations

from kpi_engine import Connector, hookimpl

from .connector import SparkConnector
from .options import SparkOptions, ViewSpec

__all__ = ["SparkConnector", "SparkOptions", "ViewSpec", "register_connectors"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [SparkConnector]
