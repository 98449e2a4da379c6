"""The JSON Schema of definition files and kpi.yml, generated from the models.

Editors use it for completion and checks while typing (e.g. the YAML language
server: ``# yaml-language-server: $schema=kpi-schema.json``), and a CI can check
files with any JSON Schema validator (Draft 2020-12). The schema of ``sources``
includes the options of the built-in connectors; a source of another connector
(a plugin) is only checked to have a ``connector``.

The schema describes a file *as written*, so that it gives the engine's verdict
to data read by an ordinary YAML reader. The engine keeps every scalar as the
text written and converts it to the type a field needs, while a YAML 1.1 reader
(PyYAML's ``safe_load``) turns ``123`` into a number, ``yes``/``on`` into true
and ``2024-01-01`` into a date. Hence:

- a text field (title, formula, table, ...) also takes a number or a boolean;
- a number field takes a number, or text that reads as one (``"0.75"``, ``"1e3"``);
  a whole-number field likewise (``"2"``); the limits of a field (``decimals`` 0-12,
  ``threads`` at least 1, ``timeout`` at least 0) hold for the text too;
- a boolean field takes true/false, the words the engine reads as booleans
  (yes/no, on/off, y/n, t/f, 1/0, any case) and the numbers 1 and 0;
- a name (of a KPI, dataset, dimension, join or source) or a column name also takes a
  boolean, because ``yes``, ``no``, ``on``, ``off``, ``true`` and ``false`` are valid names
  that YAML 1.1 reads as booleans (the key ``on`` of a join included);
- a value that contains ``${VAR}`` (or ``${VAR:-default}``) is accepted wherever the engine
  reads a number, a boolean, one of a list of words or a name: it is known only once the
  environment is read, and the engine checks it then. Keys are never interpolated.

What JSON Schema cannot say is left to ``kpi validate``: references between
definitions (a KPI's dataset, a join's dataset), formulas, that ``warning`` sits on the bad
side of ``target``, duplicate names across files, a join alias equal to its dataset's
name, whether a path exists, and connectors that plugins add.

Where a YAML 1.1 reader loses what was written, the two cannot agree: an unquoted date
(``title: 2024-01-01``) is no JSON value, so the schema refuses what the engine reads as
text; ``TRUE`` or ``Yes`` as a name, ``1.0`` for a boolean, and ``.nan``, ``.inf``, ``0x1F``
or ``1:30`` for a number arrive as values the schema takes, while the engine refuses the
text written. Duplicate keys are dropped by the reader before any schema sees them.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["json_schema"]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_ANNOTATIONS = ("title", "description", "default")
#: text with a ${VAR}: the engine reads the environment before it converts the value
_VARIABLE = {"type": "string", "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"}
#: the words pydantic reads as booleans, in any case
_BOOLEAN_TEXT = {"type": "string", "pattern": "^([yY]([eE][sS])?|[nN][oO]?|[oO]([nN]|[fF][fF])|[tT]([rR][uU][eE])?"
                                              "|[fF]([aA][lL][sS][eE])?|[01])$"}
_DIGITS = "[0-9]+(_[0-9]+)*"
#: YAML 1.1 reads these keys as booleans (PyYAML: ``on:`` is the key True)
_YAML11_BOOLEANS = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}


class _Generator(GenerateJsonSchema):
    """Mappings of names as ``propertyNames`` + ``additionalProperties``.

    pydantic writes ``patternProperties``, which leaves a key that fits no pattern unchecked,
    and drops whatever else the key type says (a reserved name).
    """

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        out: JsonSchemaValue = {"type": "object"}
        keys = self.generate_inner(schema["keys_schema"]).copy() if "keys_schema" in schema else {}
        keys.pop("title", None)
        values = self.generate_inner(schema["values_schema"]).copy() if "values_schema" in schema else {}
        values.pop("title", None)
        if keys and keys != {"type": "string"}:
            out["propertyNames"] = keys
        out["additionalProperties"] = values or True
        return out


def json_schema(which: str = "all") -> dict[str, Any]:
    """The schema of ``definitions`` files, of ``project`` files (kpi.yml), or of either (``all``)."""
    from pydantic.json_schema import models_json_schema

    from ..sources.duckdb import DuckDBConnector
    from ..sources.sqlite import SQLiteConnector
    from ..definitions.model import DefinitionFile, ProjectConfig

    models = {"definitions": DefinitionFile, "project": ProjectConfig}
    chosen = list(models.values()) if which == "all" else [models[which]]
    refs, combined = models_json_schema([(m, "validation") for m in chosen], ref_template="#/$defs/{model}",
                                        schema_generator=_Generator)
    defs = {name: _yaml11_keys(_as_written(definition)) for name, definition in combined.get("$defs", {}).items()}
    if "SourceConfig" in defs:
        defs["SourceConfig"] = _source_schema([DuckDBConnector, SQLiteConnector])
    roots = [refs[(m, "validation")] for m in chosen]
    for root in roots:  # an empty file (or one of comments only) is an empty project or definition file
        defs[root["$ref"].rsplit("/", 1)[-1]]["type"] = ["object", "null"]
    schema: dict[str, Any] = {"$schema": _DRAFT, "title": "kpi_engine " + ("files" if which == "all" else which)}
    schema.update(roots[0] if len(roots) == 1 else {"anyOf": roots})
    schema["$defs"] = defs
    return schema


def _source_schema(connectors: list[type]) -> dict[str, Any]:
    """A source: ``connector`` plus that connector's options; other connectors (plugins) are open."""
    variants = []
    for connector in connectors:
        options = _as_written(connector.Options.model_json_schema(schema_generator=_Generator))
        properties = {"connector": {"const": connector.name}, **options.get("properties", {})}
        variants.append({"type": "object", "properties": properties,
                         "required": ["connector", *options.get("required", [])], "additionalProperties": False})
    names = [c.name for c in connectors]
    variants.append({"type": "object", "properties": {"connector": {"type": "string", "not": {"enum": names}}},
                     "required": ["connector"]})
    return {"title": "Source", "description": "A data source: connector plus its options.", "anyOf": variants}


# ------------------------------------------------------------------------------------------------
# what the engine accepts, as a YAML reader gives it
# ------------------------------------------------------------------------------------------------
def _as_written(node: Any, *, key: bool = False) -> Any:
    """Every scalar of a generated schema widened to what the engine reads (see the module's docstring)."""
    if isinstance(node, list):
        return [_as_written(item, key=key) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for word, value in node.items():
        if word in ("properties", "$defs"):
            out[word] = {name: _as_written(sub) for name, sub in value.items()}
        elif word == "propertyNames":
            out[word] = _as_written(value, key=True)
        elif word in ("enum", "const", "required", "default", "examples"):
            out[word] = value
        else:
            out[word] = _as_written(value, key=key)
    return _widen(out, key=key)


def _widen(node: dict[str, Any], *, key: bool) -> dict[str, Any]:
    kind = node.get("type")
    if kind == "string":
        if "enum" in node:
            return _any_of(node, [_VARIABLE])
        if node.get("pattern") in _name_patterns():
            return _any_of(node, [{"type": "boolean"}] + ([] if key else [_VARIABLE]))
        return node if key else {**node, "type": ["string", "number", "boolean"]}
    if kind in ("integer", "number"):
        return _any_of(node, [_number_text(node), _VARIABLE])
    if kind == "boolean":
        return _any_of(node, [_BOOLEAN_TEXT, {"enum": [0, 1]}, _VARIABLE])
    return node


def _name_patterns() -> tuple[str, str]:
    from ..definitions.model import COLUMN_PATTERN, NAME_PATTERN

    return NAME_PATTERN, COLUMN_PATTERN


def _any_of(node: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """``node`` or one of ``others``; its title, description and default stay outside, for editors."""
    outer = {k: v for k, v in node.items() if k in _ANNOTATIONS}
    inner = {k: v for k, v in node.items() if k not in _ANNOTATIONS}
    return {**outer, "anyOf": [inner, *others]}


def _number_text(node: dict[str, Any]) -> dict[str, Any]:
    """Text that pydantic reads as a number within the node's limits.

    The limits of our fields are simple (0..12, at least 0, at least 1); others are not narrowed.
    """
    low, high = node.get("minimum"), node.get("maximum")
    sign = r"\+?" if low is not None and low >= 0 else "[+-]?"
    if node["type"] == "integer":
        if low is not None and high is not None and 0 <= low <= high <= 99:
            whole = "0*(" + "|".join(str(n) for n in range(high, low - 1, -1)) + ")"
        elif low is not None and low >= 1:
            whole = "0*[1-9][0-9]*(_[0-9]+)*"
        else:
            whole = _DIGITS
        return {"type": "string", "pattern": rf"^\s*{sign}{whole}(\.0+)?\s*$"}
    number = rf"({_DIGITS}(\.({_DIGITS})?)?|\.{_DIGITS})([eE][+-]?{_DIGITS})?"
    infinite = "[iI][nN][fF]([iI][nN][iI][tT][yY])?"
    words = infinite if low is not None else f"{infinite}|[nN][aA][nN]"
    return {"type": "string", "pattern": rf"^\s*{sign}({number}|{words})\s*$"}


def _yaml11_keys(node: Any) -> Any:
    """A model key that YAML 1.1 reads as a boolean (a join's ``on``) may be written either way.

    PyYAML's ``safe_load`` reads ``on: customer_id`` as ``{True: 'customer_id'}``: the key
    ``true`` then stands for ``on`` (never both), and its value is checked as ``on``'s.
    """
    properties = node.get("properties", {}) if isinstance(node, dict) else {}
    words = [name for name in properties if name in _YAML11_BOOLEANS]
    if node.get("additionalProperties") is not False or len(words) != 1:
        return node
    word = words[0]
    flag = _YAML11_BOOLEANS[word]
    has_flag = {"not": {"propertyNames": {"not": {"const": flag}}}}
    out = {**node, "propertyNames": {"anyOf": [{"enum": list(properties)}, {"const": flag}]},
           "additionalProperties": properties[word]}
    rules: list[dict[str, Any]] = [{"not": {"allOf": [{"required": [word]}, has_flag]}}]
    if word in node.get("required", []):
        out["required"] = [name for name in node["required"] if name != word]
        rules.append({"anyOf": [{"required": [word]}, has_flag]})
    out["allOf"] = [*node.get("allOf", []), *rules]
    return out
