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

Bad input is refused before it can cost anything: a control character (a NUL
pasted from a binary file, or written as the escape ``"\\0"``) is an error at
its position, and aliases may build at most :data:`ALIAS_VALUES_LIMIT` values
per file, counted on the parser's events before anything is expanded, so a
"billion laughs" file fails in milliseconds instead of filling the memory.
YAML merge keys (``<<: *defaults``) are applied; keys written beside them win.
"""

from __future__ import annotations

import bisect
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import DefinitionError, SourceText, Span

__all__ = ["ALIAS_VALUES_LIMIT", "TextMap", "YamlDocument", "display_path", "load_yaml_file", "load_yaml_text"]

#: values (scalars, lists and mappings, keys included) that the aliases of one file may build in all.
#: A defaults block of a dozen keys merged into a few hundred KPIs stays far below it; building
#: 10,000 values takes a few milliseconds, while nine nested levels of nine aliases would build 9^9.
ALIAS_VALUES_LIMIT = 10_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: what YAML 1.1 refuses in a file (its "printable" set, inverted), as libyaml and PyYAML check it
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
#: one escape of a double-quoted scalar; an escaped backslash is one too, so "\\0" is not read as "\0"
_ESCAPE = re.compile(r"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "v": "\v", "f": "\f", "e": "\x1b"}
_C0_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI "
             "DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US").split()

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
        if "&" in text:  # without an anchor there is no alias to expand (an undefined one fails to compose)
            _check_aliases(text, source)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, source) from exc
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


def _check_aliases(text: str, source: SourceText) -> None:
    """Refuse a recursive alias, or aliases that would build too much, before anything is expanded.

    Composing an alias is free (it reuses the anchored node), but building data
    copies the anchored value each time: nine nested levels of nine aliases
    build 9^9 values. One pass over the parser's events sizes each anchored
    value and adds up what the aliases would build, in the order they are written.
    """
    sizes: dict[str, int] = {}  # anchor → values its value builds
    open_: list[tuple[str | None, int]] = [(None, 0)]  # collections being read: (anchor, values so far)
    built = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            anchor = event.anchor
            if any(name == anchor for name, _ in open_):
                raise DefinitionError(f"invalid YAML: recursive alias '*{anchor}': it is inside the value of "
                                      f"'&{anchor}' it repeats", span=_mark_span(source, event.start_mark),
                                      hint="an alias repeats a value written before it, never one it is part of",
                                      code="yaml")
            size = sizes.get(anchor, 0)  # an undefined alias builds nothing: composing reports it
            built += size
            if built > ALIAS_VALUES_LIMIT:
                raise DefinitionError(
                    f"invalid YAML: the aliases of this file build more than {ALIAS_VALUES_LIMIT:,} values; "
                    f"'*{anchor}' ({size:,} values) crosses the limit", span=_mark_span(source, event.start_mark),
                    hint="each alias copies the whole value of its anchor: alias smaller blocks, "
                         "or write the values out", code="yaml")
            name, count = open_[-1]
            open_[-1] = (name, count + size)
        elif isinstance(event, yaml.ScalarEvent):
            name, count = open_[-1]
            open_[-1] = (name, count + 1)
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            open_.append((event.anchor, 1))
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = open_.pop()
            name, count = open_[-1]
            open_[-1] = (name, count + size)
            if anchor is not None:
                sizes[anchor] = size


def _mark_span(source: SourceText, mark: yaml.Mark) -> Span:
    return Span(source, mark.line + 1, mark.column + 1)


def _index_span(source: SourceText, index: int, width: int = 1) -> Span:
    """The span of ``width`` characters at a character index of the text (lines end at '\\n')."""
    text = source.text
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return Span(source, line, column, line, column + width)


def _describe(ch: str) -> str:
    """``the control character U+0000 (NUL)``: a character that may not print, named so it can be found."""
    code = ord(ch)
    name = _C0_NAMES[code] if code < 32 else "DEL" if code == 0x7F else unicodedata.name(ch, "")
    kind = "the control character" if unicodedata.category(ch) == "Cc" else "the character"
    return f"{kind} U+{code:04X}" + (f" ({name})" if name else "")


def _reader_error(exc: yaml.reader.ReaderError, source: SourceText) -> DefinitionError:
    """A character YAML refuses, at its line and column counted in characters.

    libyaml reports the position as a byte offset of the UTF-8 text, which is
    wrong after any non-ASCII character, so the character is looked up again.
    """
    found = _NON_PRINTABLE.search(source.text)
    if found is None:
        return DefinitionError(f"invalid YAML: {exc.reason}", span=Span(source, 1, 1), code="yaml")
    return DefinitionError(
        f"invalid YAML: {_describe(found.group())} is not allowed in a YAML file",
        span=_index_span(source, found.start()),
        hint="delete it: a YAML file holds printable text only (an editor may show the character as a box, "
             "or not at all)",
        code="yaml")


def _escaped_control(doc: YamlDocument, scalar: _Scalar, value: str) -> DefinitionError | None:
    """A double-quoted scalar whose escapes write a control character (``"\\0"``), at that escape.

    Such a character is refused in the file itself; written as an escape it would reach a
    formula, a table name or SQL and fail there with a confusing message, or not at all.
    """
    found = _NON_PRINTABLE.search(value)
    if found is None:
        return None
    raw = doc.source.text[scalar.start : scalar.end]
    for escape in _ESCAPE.finditer(raw):
        body = escape.group()[1:]
        ch = chr(int(body[1:], 16)) if body[0] in "xuU" and len(body) > 1 else _SIMPLE_ESCAPES.get(body, "")
        if _NON_PRINTABLE.fullmatch(ch):
            return DefinitionError(
                f"invalid YAML: the escape '{escape.group()}' writes {_describe(ch)}, "
                "which a definition cannot hold",
                span=_index_span(doc.source, scalar.start + escape.start(), len(escape.group())),
                hint="remove the escape", code="yaml")
    return DefinitionError(  # not reached: the reader refuses control characters written as themselves
        f"invalid YAML: the string holds {_describe(found.group())}",
        span=_index_span(doc.source, scalar.start), code="yaml")


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
        for key_node, value_node in _pairs(node, doc):
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
    scalar = doc.scalars[path] = _Scalar(node.start_mark.index, node.end_mark.index, style)
    if style == '"':
        error = _escaped_control(doc, scalar, node.value)
        if error is not None:
            raise error
    if style is None and node.value in _NULLS:
        return None
    return _interpolate(node.value, doc, path, environ)


def _pairs(node: yaml.MappingNode, doc: YamlDocument) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's key/value nodes with its merge keys (``<<: *defaults``) applied, as YAML defines them.

    Keys written in the mapping win over merged ones, and an earlier merged
    mapping over a later one; merged keys take the place of the ``<<`` and keep
    the position of the anchor they were written in.
    """
    if not any(key.tag == _MERGE_TAG for key, _ in node.value):
        return node.value
    written = {key.value for key, _ in node.value if key.tag != _MERGE_TAG and isinstance(key, yaml.ScalarNode)}
    pairs: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag != _MERGE_TAG:
            pairs.append((key_node, value_node))
            continue
        merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for mapping in merged:
            if not isinstance(mapping, yaml.MappingNode):
                raise DefinitionError("'<<' merges a mapping, or a list of mappings, into this one",
                                      span=_span(doc, mapping), code="yaml")
            for key, value in _pairs(mapping, doc):
                if not isinstance(key, yaml.ScalarNode) or key.value not in written:  # _build refuses other keys
                    written.add(key.value)
                    pairs.append((key, value))
    return pairs


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
