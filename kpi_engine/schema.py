"""The JSON Schema of definition files and kpi.yml, generated from the models.

Editors use it for completion and checks while typing (e.g. the YAML language
server: ``# yaml-language-server: $schema=kpi-schema.json``). The schema of
``sources`` includes the options of the built-in connectors.
"""

from __future__ import annotations

from typing import Any

__all__ = ["json_schema"]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(which: str = "all") -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    from .connectors.duckdb import DuckDBConnector
    from .connectors.sqlite import SQLiteConnector
    from .model import DefinitionFile, ProjectConfig

    models = {"definitions": DefinitionFile, "project": ProjectConfig}
    chosen = list(models.values()) if which == "all" else [models[which]]
    refs, combined = models_json_schema([(m, "validation") for m in chosen], ref_template="#/$defs/{model}")
    defs = combined.get("$defs", {})
    if "SourceConfig" in defs:
        defs["SourceConfig"] = _source_schema([DuckDBConnector, SQLiteConnector])
    roots = [refs[(m, "validation")] for m in chosen]
    schema: dict[str, Any] = {"$schema": _DRAFT, "title": "kpi_engine " + ("files" if which == "all" else which)}
    if len(roots) == 1:
        schema.update(roots[0])
    else:
        schema["anyOf"] = roots
    schema["$defs"] = defs
    return schema


def _source_schema(connectors: list[type]) -> dict[str, Any]:
    """A source: ``connector`` plus that connector's options; other connectors (plugins) are open."""
    variants = []
    for connector in connectors:
        options = connector.Options.model_json_schema()
        properties = {"connector": {"const": connector.name}, **options.get("properties", {})}
        variants.append({"type": "object", "properties": properties, "required": ["connector"],
                         "additionalProperties": False})
    names = [c.name for c in connectors]
    variants.append({"type": "object", "properties": {"connector": {"type": "string", "not": {"enum": names}}},
                     "required": ["connector"]})
    return {"title": "Source", "description": "A data source: connector plus its options.", "anyOf": variants}
