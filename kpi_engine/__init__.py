"""kpi_engine: declarative KPIs in YAML, compiled to SQL for any engine.

    import kpi_engine
    project = kpi_engine.load("path/to/project")
    result = project.query(["csat"], grain="month", by=["channel"])

The public names below are imported on first use, so that ``import kpi_engine``
(and the ``kpi`` command) start instantly.

This module is one of the light modules a cached ``kpi run`` loads: they never
import pydantic, sqlglot, lark, yaml or click at module level, themselves or
through what they import. The list of them is kept in one place,
``LIGHT_MODULES`` in tests/test_layout.py, which checks it (and that
kpi_engine's modules import each other without a cycle).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "load": "project",
    "find_project": "project",
    "Project": "project",
    "Result": "result",
    "Query": "compiler.query",
    "KpiError": "errors",
    "DefinitionError": "errors",
    "FormulaError": "errors",
    "QueryError": "errors",
    "SourceError": "errors",
    "EngineBugError": "errors",
    "ForbiddenError": "errors",
    "QueryTimeoutError": "errors",
    "ErrorGroup": "errors",
    "Kpi": "definitions.model",
    "Dataset": "definitions.model",
    "hookimpl": "hookspecs",
    "hookspec": "hookspecs",
    "Connector": "sources.base",
    "ConnectorOptions": "sources.base",
    "Connection": "sources.base",
    "FunctionSpec": "formulas.functions",
    "SqlDialect": "compiler.dialects",
    "get_plugin_manager": "plugins",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

if TYPE_CHECKING:  # pragma: no cover
    from .compiler.dialects import SqlDialect
    from .compiler.query import Query
    from .sources.base import Connection, Connector, ConnectorOptions
    from .errors import (DefinitionError, EngineBugError, ErrorGroup, ForbiddenError, FormulaError, KpiError, QueryError,
                         QueryTimeoutError, SourceError)
    from .formulas.functions import FunctionSpec
    from .hookspecs import hookimpl, hookspec
    from .definitions.model import Dataset, Kpi
    from .plugins import get_plugin_manager
    from .project import Project, find_project, load
    from .result import Result


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kpi_engine' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
