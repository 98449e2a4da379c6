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
    from typing import Any

    from .sources.base import Connector
    from .formulas.functions import FunctionSpec
    from .project import Project

__all__ = ["hookimpl", "hookspec", "notify", "register_connectors", "register_functions"]

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


@hookspec
def notify(summary: dict[str, Any], project: Project) -> None:
    """Send the summary of a ``kpi check`` on a channel of this plugin (chat, e-mail, pager, file).

    Called once per ``kpi check``, on every plugin that implements it, after the
    summary is printed (and after ``--notify URL`` is posted): a plugin that
    should send only sometimes decides from the summary or its own settings.
    ``summary`` is the JSON object the command prints with ``--format json``
    (``project``, ``text``, ``kpis``), a fresh copy for each plugin;
    ``project`` is the loaded :class:`~kpi_engine.Project`. An implementation
    may take only the arguments it needs. Returns nothing; an exception means
    the delivery failed: it is reported with the plugin's name and ``kpi check``
    exits with status 3, after every other channel has had its turn.
    """
