"""Finding plugins: the only module that knows about entry points and plugin files.

Nothing is loaded at import. :func:`get_plugin_manager` registers the built-in
connectors (as plugins, through the public hooks), then every installed
distribution's ``kpi_engine`` entry point, then the local modules a project
names in ``plugins:``. ``check_pending`` turns a misspelt hook name into an
error instead of a silently ignored function.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import DefinitionError, KpiError, Span, raise_all, unknown
from .formulas.functions import BUILTIN_FUNCTIONS, FunctionSpec

__all__ = ["Notifier", "PluginRegistry", "get_plugin_manager"]

ENTRY_POINT_GROUP = "kpi_engine"


def get_plugin_manager(local: Sequence[tuple[Path, Span | None]] = (), *, entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with the built-ins, installed plugins and the given local modules."""
    from .sources import duckdb as duckdb_connector
    from .sources import sqlite as sqlite_connector

    pm = pluggy.PluginManager("kpi_engine")
    pm.add_hookspecs(hookspecs)
    pm.register(duckdb_connector, name="kpi_engine.duckdb")
    pm.register(sqlite_connector, name="kpi_engine.sqlite")
    if entry_points:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:  # a broken installed plugin must not hide behind a traceback
            raise DefinitionError(f"an installed kpi_engine plugin failed to load: {exc}", code="plugin") from exc
    for path, span in local:
        module = _load_module(path, span)
        if pm.is_registered(module):
            continue
        try:
            pm.register(module, name=f"local:{path}")
        except pluggy.PluginValidationError as exc:  # e.g. a hook taking an argument its hook does not have
            raise DefinitionError(f"plugin module '{path}': {exc}", span=span, code="plugin") from exc
    _check_hook_names(pm, {str(path): span for path, span in local})
    return pm


def _check_hook_names(pm: pluggy.PluginManager, spans: dict[str, Span | None]) -> None:
    """A @hookimpl whose name is no hook would be silently ignored: say which, and what was meant."""
    known = [name for name in dir(hookspecs) if getattr(getattr(hookspecs, name), "kpi_engine_spec", None)]
    errors: list[KpiError] = []
    for name in dir(pm.hook):
        caller = getattr(pm.hook, name)
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            plugin = pm.get_name(impl.plugin) or impl.plugin_name
            message = unknown("hook", name, known, otherwise=f" (hooks: {', '.join(known)})",
                              head=f"plugin {plugin.removeprefix('local:')} implements '{name}', "
                                   "which is not a kpi_engine hook")
            errors.append(DefinitionError(message, span=spans.get(plugin.removeprefix("local:")), code="plugin"))
    raise_all(errors)


def _load_module(path: Path, span: Span | None):
    if not path.is_file():
        raise DefinitionError(f"plugin module '{path}' does not exist", span=span, code="plugin")
    name = f"kpi_engine_local_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DefinitionError(f"cannot load plugin module '{path}'", span=span, code="plugin")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise DefinitionError(f"plugin module '{path}' failed to import: {type(exc).__name__}: {exc}",
                              span=span, code="plugin") from exc
    return module


class PluginRegistry:
    """What the plugins provide, collected once per project."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.connectors: dict[str, type] = {}
        errors: list[KpiError] = []
        owners: dict[str, str] = {}
        for plugin, classes in _results(pm, pm.hook.register_connectors):
            for cls in classes or []:
                name = getattr(cls, "name", None)
                if not name:
                    errors.append(DefinitionError(f"plugin {plugin} registers a connector without a name",
                                                  code="plugin"))
                elif name in self.connectors:
                    errors.append(DefinitionError(f"connector '{name}' is registered by both {owners[name]} "
                                                  f"and {plugin}", code="plugin"))
                else:
                    self.connectors[name] = cls
                    owners[name] = plugin
        self.functions: dict[str, FunctionSpec] = dict(BUILTIN_FUNCTIONS)
        function_owners: dict[str, str] = {}
        for plugin, specs in _results(pm, pm.hook.register_functions):
            for spec in specs or []:
                if spec.name in function_owners:
                    errors.append(DefinitionError(f"function {spec.name}() is registered by both "
                                                  f"{function_owners[spec.name]} and {plugin}", code="plugin"))
                elif spec.name in BUILTIN_FUNCTIONS:
                    errors.append(DefinitionError(f"plugin {plugin} cannot redefine built-in function "
                                                  f"{spec.name}()", code="plugin"))
                elif spec.kind != "row" or spec.sql is None:
                    errors.append(DefinitionError(f"plugin {plugin}: function {spec.name}() must be a row "
                                                  "function with an sql builder", code="plugin"))
                else:
                    self.functions[spec.name] = spec
                    function_owners[spec.name] = plugin
        raise_all(errors)

    def notifiers(self) -> list[Notifier]:
        """Every plugin's ``notify`` hook, in the order the plugins were registered. Each is called on its
        own (not through pluggy's one call of them all), so one failing channel does not silence the rest."""
        return [Notifier((self.pm.get_name(impl.plugin) or impl.plugin_name).removeprefix("local:"), impl)
                for impl in self.pm.hook.notify.get_hookimpls()]


@dataclass(frozen=True)
class Notifier:
    """A channel of ``kpi check``: one plugin's ``notify`` hook, named after its plugin (the entry point's
    name, or the path of a local module), so that a failed delivery says whose it was."""

    name: str
    impl: pluggy.HookImpl

    def __call__(self, summary: dict[str, Any], project: Any) -> None:
        """Deliver; the implementation may take only some of the hook's arguments, as pluggy allows."""
        given = {"summary": summary, "project": project}
        self.impl.function(*[given[name] for name in self.impl.argnames])


def _results(pm: pluggy.PluginManager, hook) -> list[tuple[str, object]]:
    """(plugin name, result) for every implementation of a hook, in the order plugins were registered
    (built-ins, then installed distributions, then the modules of kpi.yml)."""
    out = []
    for impl in hook.get_hookimpls():
        try:
            result = impl.function()
        except Exception as exc:
            raise DefinitionError(f"plugin {impl.plugin_name}: {hook.name}() failed: {exc}", code="plugin") from exc
        out.append((pm.get_name(impl.plugin) or impl.plugin_name, result))
    return out
