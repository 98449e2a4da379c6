"""Definition files → the catalog, and pydantic's errors → positioned messages.

Every file under the project's definition folders is read and checked before
anything is reported, so one run shows every problem. A pydantic error location
such as ``('kpis', 'nps', 'formt')`` becomes ``definitions/nps.yml:7:5: unknown
key 'formt' in KPI 'nps'; did you mean 'format'?``.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .catalog import Catalog, DatasetEntry, KpiEntry
from ..errors import DefinitionError, KpiError, SourceText, Span, unique_errors, unknown
from .loader import YamlDocument, load_yaml_file
from .discovery import definition_paths
from .model import NAME_PATTERN, Dataset, Kpi, reserved_name_problem

__all__ = ["definition_files", "hide_line", "load_definitions", "model_errors", "validate_model"]

_KINDS = {"kpis": "KPI", "datasets": "dataset", "sources": "source", "joins": "join", "dimensions": "dimension"}
_SECTIONS: dict[str, tuple[type[BaseModel], type]] = {"datasets": (Dataset, DatasetEntry), "kpis": (Kpi, KpiEntry)}


def definition_files(root: Path, entries: Iterable[str], document: YamlDocument | None) -> tuple[list[Path], list[KpiError]]:
    """The YAML files named by ``definitions:`` (``discovery.definition_paths``), and an error for each
    path named in kpi.yml that does not exist (the default folder may be absent)."""
    entries = list(entries)
    errors: list[KpiError] = []
    if document is not None and isinstance(document.data, dict) and "definitions" in document.data:
        for i, entry in enumerate(entries):
            path = (root / entry).resolve() if not Path(entry).is_absolute() else Path(entry)
            if not path.exists():
                errors.append(DefinitionError(f"definitions path '{entry}' does not exist",
                                              span=document.span_at(("definitions", i)), code="missing-path"))
    return definition_paths(root, entries), errors


def load_definitions(files: Iterable[Path], catalog: Catalog, environ: Mapping[str, str] | None = None) -> list[KpiError]:
    """Read every file into ``catalog``; return every error found (nothing is raised).

    Entries are checked one by one, so one bad value hides nothing else: the
    names of entries that fail go to ``catalog.broken``, and references to
    them are not reported a second time.
    """
    errors: list[KpiError] = []
    for path in files:
        try:
            document = load_yaml_file(path, environ=environ)
        except KpiError as exc:
            errors.append(exc)
            catalog.incomplete = True
            continue
        catalog.variables.update(document.variables)
        data = document.data
        if not isinstance(data, dict):
            errors.append(DefinitionError("a definition file is a mapping with 'datasets:' and/or 'kpis:'",
                                          span=document.span_at(()), code="schema"))
            continue
        for key in data:
            if key not in _SECTIONS:
                message = unknown("key", str(key), _SECTIONS, otherwise=" (expected datasets or kpis)")
                errors.append(DefinitionError(message, span=document.key_span((key,)), code="schema"))
        for kind, (model, entry_type) in _SECTIONS.items():
            section = data.get(kind)
            if section is None:
                continue
            if not isinstance(section, dict):
                errors.append(DefinitionError(f"'{kind}' must be a mapping of names to definitions",
                                              span=document.span_at((kind,)), code="schema"))
                continue
            for name in section:
                errors.extend(_add_entry(catalog, document, kind, name, model, entry_type))
    return errors


def _add_entry(catalog: Catalog, document: YamlDocument, kind: str, name: Any, model: type[BaseModel],
               entry_type: type) -> list[KpiError]:
    path = (kind, name)
    if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
        catalog.broken.add(str(name))
        return [DefinitionError(
            f"invalid name '{name}': names are lower-case letters, digits and _, starting with a letter "
            f"(pattern {NAME_PATTERN[1:-1]})", span=document.key_span(path), code="schema")]
    problem = reserved_name_problem(name, "KPI") if kind == "kpis" else None
    if problem:  # a KPI 'period' would overwrite the period column of every result
        catalog.broken.add(name)
        return [DefinitionError(problem, span=document.key_span(path), code="schema")]
    definition, problems = validate_model(model, document, path)
    if definition is None:
        catalog.broken.add(name)
        return problems
    entry = entry_type(name, document, path, definition)
    other = catalog.datasets.get(name) or catalog.kpis.get(name)
    if other is not None:
        return [DefinitionError(f"'{name}' is defined twice; first at {other.name_span}",
                                span=entry.name_span, code="duplicate-name")]
    if kind == "kpis":
        definition._name = name  # type: ignore[attr-defined]
        catalog.kpis[name] = entry
    else:
        catalog.datasets[name] = entry
    return []


def validate_model(model: type[BaseModel], document: YamlDocument, base: tuple = ()) -> tuple[Any, list[KpiError]]:
    """Validate the data at ``base`` of a document; errors point into the file."""
    data = document.data
    for key in base:
        data = data[key]
    if data is None and not base:
        data = {}
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, model_errors(exc, document, model, base)


def model_errors(exc: ValidationError, document: YamlDocument, model: type[BaseModel], base: tuple = ()) -> list[KpiError]:
    errors: list[KpiError] = []
    seen: set[tuple] = set()
    for error in exc.errors(include_url=False):
        loc = tuple(base) + tuple(error["loc"])
        key = (loc, error["type"])
        if key in seen:
            continue
        seen.add(key)
        message, span = _describe(error, loc, document, model, len(base))
        if loc[:2] == ("serve", "tokens"):
            message, span = _about_tokens(error, loc, message, span)
        errors.append(DefinitionError(message, span=span, code="schema"))
    # a value that fits no member of a union gets one message per member: keep the first per place
    return unique_errors(errors, one_per_place=True)


def _describe(error: dict, loc: tuple, document: YamlDocument, model: type[BaseModel], skip: int):
    kind = error["type"]
    here = _where(loc[:-1] if kind in ("extra_forbidden", "missing") else loc)
    value = error.get("input")
    if kind == "extra_forbidden":
        key = loc[-1]
        fields = _field_names(model, loc[skip:-1])
        expected = f" (expected one of: {', '.join(fields)})" if fields else ""
        return unknown("key", str(key), fields, where=here, otherwise=expected), document.key_span(loc)
    if kind == "missing":
        return f"missing required key '{loc[-1]}'{here}", document.key_span(loc[:-1])
    if loc and loc[-1] == "[key]" and kind == "value_error":  # a rule on a name, e.g. a reserved one
        return _value_message(error) + _where(loc[:-2]), document.span_at(loc)
    if loc and loc[-1] == "[key]":
        return (f"invalid name '{loc[-2]}': names are lower-case letters, digits and _, starting with a letter "
                f"(pattern {NAME_PATTERN[1:-1]})"), document.span_at(loc)
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected", "")))
        head = f"{loc[-1]} must be one of {', '.join(options)}; got '{value}'"
        return unknown(str(loc[-1]), str(value), options, head=head), document.span_at(loc)
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        noun = "a whole number" if kind.startswith("int") else "a number"
        return f"{loc[-1]} must be {noun}; got '{value}'", document.span_at(loc)
    if kind in ("bool_parsing", "bool_type"):
        return f"{loc[-1]} must be true or false; got '{value}'", document.span_at(loc)
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of keys{here}, got {_shape(value)}", document.span_at(loc)
    if kind in ("list_type",):
        return f"{loc[-1]} must be a list, e.g. [a, b]; got {_shape(value)}", document.span_at(loc)
    if kind in ("string_type",):
        if value is None:
            return f"{loc[-1]} is empty{here}", document.key_span(loc)
        return f"{loc[-1]} must be text; got {_shape(value)}", document.span_at(loc)
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"{loc[-1]} {error['msg'].lower()}; got {value}", document.span_at(loc)
    if kind == "string_pattern_mismatch":
        head = (f"{loc[-1]} '{value}' is not a name: names are lower-case letters, digits and _, "
                "starting with a letter")
        lowered = [value.lower()] if isinstance(value, str) and re.match(NAME_PATTERN, value.lower()) else []
        return unknown("name", str(value), lowered, head=head), document.span_at(loc)
    message = _value_message(error)
    # a rule about a whole mapping (a dataset, a join) points at its name
    span = document.key_span(loc) if isinstance(value, dict) and loc else document.span_at(loc)
    head, hint, tail = message.partition("; did you mean")  # the place belongs before the suggestion
    return head + here + hint + tail, span


def _about_tokens(error: dict, loc: tuple, message: str, span: Span | None) -> tuple[str, Span | None]:
    """An error inside ``serve.tokens`` keeps its place but not its line, which may hold a token written
    in the file; about a ``token:`` itself, the message names the kind of value, never the value."""
    if len(loc) > 3 and loc[3] == "token" and error["type"] not in ("missing", "extra_forbidden"):
        value = error.get("input")
        kind = "nothing" if value is None else "a mapping" if isinstance(value, dict) else \
            "a list" if isinstance(value, list) else "a value that is not text"
        message = f"token must be text, usually ${{VARIABLE}}; got {kind}"
    return message, hide_line(span)


def hide_line(span: Span | None) -> Span | None:
    """The same place, without the text of its file: the error names file:line:col, but its rendering
    shows no line (for lines that may hold a secret, such as a token in kpi.yml)."""
    if span is None or span.source is None:
        return span
    return Span(SourceText(span.source.name, ""), span.line, span.column, span.end_line, span.end_column)


def _value_message(error: dict) -> str:
    """pydantic's message without its "Value error, " prefix: our validators say it all."""
    message = error["msg"]
    return message[len("Value error, "):] if message.startswith("Value error, ") else message


def _shape(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"'{value}'"


def _where(loc: tuple) -> str:
    """ in KPI 'nps' / in dataset 'tickets' / in join 'customer' of dataset 'tickets'."""
    parts = []
    for i in range(0, len(loc) - 1):
        kind = _KINDS.get(loc[i]) if isinstance(loc[i], str) else None
        if kind and isinstance(loc[i + 1], str):
            parts.append(f"{kind} '{loc[i + 1]}'")
    if not parts:
        return ""
    return " in " + " of ".join(reversed(parts))


def _field_names(model: Any, path: tuple) -> list[str]:
    """The keys allowed at ``path`` inside ``model`` (aliases included)."""
    current: Any = model
    for step in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {(f.alias or n): f for n, f in current.model_fields.items()}
            field = fields.get(step)
            if field is None:
                return []
            current = field.annotation
        elif typing.get_origin(current) in (dict, Mapping):
            current = typing.get_args(current)[1]
        elif typing.get_origin(current) is list:
            current = typing.get_args(current)[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [(f.alias or n) for n, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → X; ``Annotated[X, ...]`` → X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else args[0]
        else:
            return annotation

