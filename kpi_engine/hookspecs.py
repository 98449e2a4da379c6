"""The hooks a kpi_engine plugin can implement (pluggy project name ``kpi_engine``).

Each hook below is a do-nothing function whose signature and docstring are the
contract; ``docs/plugins.md`` repeats them with examples, and a test fails when
a hook is added here without being documented there. The built-in ``duckdb``
and ``sqlite`` connectors are plugins that implement these same hooks.

A plugin is a module (or any object) with functions decorated by
:data:`hookimpl`, found through the ``kpi_engine`` entry-point group or named
in ``plugins:`` of kpi.yml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .sources.base import Connector
    from .formulas.functions import FunctionSpec

__all__ = ["hookimpl", "hookspec", "register_connectors", "register_functions"]

hookspec = pluggy.HookspecMarker("kpi_engine")
hookimpl = pluggy.HookimplMarker("kpi_engine")


@hookspec
def register_connectors() -> list[type[Connector]]:
    """Return the connector classes this plugin provides.

    Called once, when a project is loaded. Each class names itself
    (``Connector.name``, the value of ``connector:`` in kpi.yml), the sqlglot
    dialect its SQL is generated in, and a pydantic model of its options.
    Every plugin's list is collected; two connectors with the same name are an
    error naming both plugins.
    """


@hookspec
def register_functions() -> list[FunctionSpec]:
    """Return row-level functions to add to the formula language.

    Called once, when a project is loaded. Each :class:`~kpi_engine.FunctionSpec`
    has ``kind="row"`` and an ``sql(dialect, args)`` callable that builds the
    sqlglot expression of a call from the SQL of its arguments. A function may
    not reuse the name of a built-in function.
    """
