"""YAML files read into plain data plus a position for every key and value.

PyYAML's safe loader turns ``NO`` into False and ``2024-01-01`` into a date; a
KPI file must keep what the analyst wrote, so every scalar stays a string
(pydantic converts the typed fields) and only an unquoted ``null``, ``~`` or
empty value is None. ``${VAR}`` and ``${VAR:-default}`` are read from the
environment; ``$$`` writes a literal dollar.

Positions come from the composed node tree (libyaml when available), so a
pydantic error location such as ``('kpis', 'nps', 'target')`` maps back to
``file:line:col`` through :meth:`YamlDocument.span_at`, and a formula's token
offsets map into the file through :meth:`YamlDocument.text_map`, quoted and
block scalars included.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import DefinitionError, SourceText, Span

__all__ = ["TextMap", "YamlDocument", "display_path", "load_yaml_file", "load_yaml_text"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Path_ = tuple[Any, ...]


@dataclass(slots=True)
class _Scalar:
    start: int
    end: int
    style: str | None


@dataclass(slots=True)
class YamlDocument:
    """One YAML file: its data, and where each piece of it is written."""

    source: SourceText
    data: Any
    spans: dict[Path_, Span] = field(default_factory=dict)
    key_spans: dict[Path_, Span] = field(default_factory=dict)
    scalars: dict[Path_, _Scalar] = field(default_factory=dict)
    #: environment variables read by ${VAR}: name → the value used (None when the default was used)
    variables: dict[str, str | None] = field(default_factory=dict)
    _line_starts: list[int] | None = None

    def span_at(self, path: Path_) -> Span:
        """The span of the value at ``path``, or of its closest written ancestor.

        A trailing ``'[key]'`` (pydantic's marker for a mapping key) points at
        the key itself.
        """
        path = tuple(path)
        if path and path[-1] == "[key]" and path[:-1] in self.key_spans:
            return self.key_spans[path[:-1]]
        while path:
            if path in self.spans:
                return self.spans[path]
            path = path[:-1]
        return self.spans.get((), Span(self.source, 1, 1))

    def key_span(self, path: Path_) -> Span:
        return self.key_spans.get(tuple(path)) or self.span_at(path)

    def position(self, index: int) -> tuple[int, int]:
        """1-based (line, column) of a character index in the file."""
        if self._line_starts is None:
            starts = [0]
            starts.extend(i + 1 for i, ch in enumerate(self.source.text) if ch == "\n")
            self._line_starts = starts
        line = bisect.bisect_right(self._line_starts, index) - 1
        return line + 1, index - self._line_starts[line] + 1

    def text_map(self, path: Path_, value: str) -> TextMap:
        """Map offsets in the scalar ``value`` at ``path`` back to the file (computed on first use)."""
        return TextMap(self.source, self, self.scalars.get(tuple(path)), value, self.span_at(path))

    def _align(self, scalar: _Scalar, value: str) -> list[int]:
        """File index of each character of ``value``, found by walking the raw scalar.

        The value is the raw text minus quotes, indentation and escapes, with
        folded line breaks turned into spaces, so a greedy walk lines them up.
        """
        raw = self.source.text[scalar.start : scalar.end]
        j = 0
        if scalar.style in ("'", '"'):
            j = 1
        elif scalar.style in ("|", ">"):
            j = raw.find("\n") + 1
        indexes: list[int] = []
        for ch in value:
            k = j
            while k < len(raw) and raw[k] != ch and not (ch == " " and raw[k] == "\n"):
                k += 1
            if k < len(raw):
                j = k
            indexes.append(scalar.start + min(j, max(len(raw) - 1, 0)))
            j += 1
        indexes.append(scalar.start + min(j, len(raw)))
        return indexes


class TextMap:
    """Offsets of a string → spans in the file it was read from."""

    __slots__ = ("_indexes", "document", "fallback", "scalar", "source", "value")

    def __init__(
        self,
        source: SourceText,
        document: YamlDocument,
        scalar: _Scalar | None,
        value: str,
        fallback: Span,
    ) -> None:
        self.source = source
        self.document = document
        self.scalar = scalar
        self.value = value
        self.fallback = fallback
        self._indexes: list[int] | None = None

    @classmethod
    def identity(cls, source: SourceText) -> TextMap:
        """For a string that is its own source, such as ``--where``."""
        doc = YamlDocument(source, None)
        text_map = cls(source, doc, None, source.text, Span(source, 1, 1))
        text_map._indexes = list(range(len(source.text) + 1))
        return text_map

    def span(self, start: int, end: int) -> Span:
        if self._indexes is None:
            if self.scalar is None:
                return self.fallback
            self._indexes = self.document._align(self.scalar, self.value)
        indexes = self._indexes
        last = len(indexes) - 1
        a = indexes[max(0, min(start, last))]
        b = indexes[max(0, min(end - 1, last))] + 1 if end > start else a + 1
        line, column = self.document.position(a)
        end_line, end_column = self.document.position(b)
        if end_line != line:
            end_line, end_column = line, column + 1
        return Span(self.source, line, column, end_line, max(end_column, column + 1))


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the current folder when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def load_yaml_file(path: Path, *, environ: Mapping[str, str] | None = None) -> YamlDocument:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DefinitionError(f"cannot read {display_path(path)}: {exc.strerror}", code="io") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        source = SourceText(display_path(path), raw.decode("utf-8", "replace"))
        raise DefinitionError(f"the file is not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be decoded",
                              span=Span(source, line, column), hint="save the file as UTF-8", code="yaml") from exc
    return load_yaml_text(text, display_path(path), environ=environ)


def load_yaml_text(
    text: str, name: str, *, environ: Mapping[str, str] | None = None
) -> YamlDocument:
    source = SourceText(name, text)
    doc = YamlDocument(source, None)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, source) from exc
    except yaml.YAMLError as exc:
        raise DefinitionError(f"invalid YAML: {exc}", span=Span(source, 1, 1), code="yaml") from exc
    if node is None:
        doc.data = {}
        doc.spans[()] = Span(source, 1, 1)
        return doc
    doc.data = _build(node, (), doc, os.environ if environ is None else environ)
    return doc


def _yaml_error(exc: yaml.MarkedYAMLError, source: SourceText) -> DefinitionError:
    """PyYAML's problem, with its context ("while parsing a flow sequence ... line 3") kept."""
    mark = exc.problem_mark or exc.context_mark
    span = Span(source, mark.line + 1, mark.column + 1) if mark else Span(source, 1, 1)
    problem = (exc.problem or "invalid YAML").strip()
    hint = None
    if mark is not None and 0 <= mark.index < len(source.text) and source.text[mark.index] == "\t":
        problem = "a tab character: YAML indents with spaces only"
    elif "another document" in problem:
        problem = "a file holds a single document; remove the '---' separator"
    elif exc.context:
        where = ""
        if exc.context_mark is not None and exc.context_mark is not mark:
            where = f" that starts at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        problem = f"{problem} {exc.context.strip()}{where}"
        if "flow" in exc.context:
            hint = "close every [ with ] and every { with }, or put the values on their own lines"
    return DefinitionError(f"invalid YAML: {problem}", span=span, hint=hint, code="yaml")


def _span(doc: YamlDocument, node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    end_line, end_column = end.line + 1, end.column + 1
    if end_line != start.line + 1:
        end_line, end_column = start.line + 1, start.column + 2
    return Span(doc.source, start.line + 1, start.column + 1, end_line, end_column)


def _build(node: yaml.Node, path: Path_, doc: YamlDocument, environ: Mapping[str, str]) -> Any:
    doc.spans[path] = _span(doc, node)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        seen: dict[str, Span] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise DefinitionError(
                    "a mapping key must be a plain name", span=_span(doc, key_node), code="yaml"
                )
            key = key_node.value
            key_span = _span(doc, key_node)
            if key in seen:
                first = seen[key]
                raise DefinitionError(
                    f"duplicate key '{key}' (first written at line {first.line})",
                    span=key_span,
                    code="duplicate-key",
                )
            seen[key] = key_span
            doc.key_spans[path + (key,)] = key_span
            out[key] = _build(value_node, path + (key,), doc, environ)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), doc, environ) for i, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    style = node.style or None  # libyaml says '' for a plain scalar, PyYAML None
    doc.scalars[path] = _Scalar(node.start_mark.index, node.end_mark.index, style)
    if style is None and node.value in _NULLS:
        return None
    return _interpolate(node.value, doc, path, environ)


def _interpolate(value: str, doc: YamlDocument, path: Path_, environ: Mapping[str, str]) -> str:
    if "$" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in environ:
            doc.variables[name] = environ[name]
            return environ[name]
        if default is not None:
            doc.variables[name] = None
            return default
        raise DefinitionError(
            f"environment variable '{name}' is not set",
            span=doc.text_map(path, value).span(match.start(), match.end()),
            hint=f"export {name}=... or write ${{{name}:-default}}",
            code="env",
        )

    return _VARIABLE.sub(replace, value)
