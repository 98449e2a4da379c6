"""Every error kpi_engine raises, and how it is shown.

The tree::

    KpiError                    carries code, message, span (file/line/column), hint
    ├── DefinitionError         a YAML file, a model value, a formula, a reference   (exit 1)
    │   └── FormulaError        a formula that does not parse or does not check
    ├── QueryError              a query option: unknown KPI, bad where, bad dates    (exit 1)
    │   └── ForbiddenError      a KPI or dimension outside a token's access          (HTTP 403)
    ├── SourceError             the data source failed: down, missing, timed out     (exit 3)
    ├── QueryTimeoutError       a query past its time limit, cancelled on the engine     (exit 3, HTTP 504)
    ├── EngineBugError          SQL kpi_engine wrote was refused by the engine: a bug, with the statement (exit 1)
    └── ErrorGroup              several of the above, reported together              (exit of the worst)

Third-party exceptions (yaml, pydantic, lark, sqlglot, database drivers) never
leave the library: they are wrapped in one of these with ``raise ... from``.
Positions are 1-based, as editors and CI annotations expect.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DefinitionError",
    "EngineBugError",
    "ErrorGroup",
    "ForbiddenError",
    "FormulaError",
    "KpiError",
    "QueryError",
    "QueryTimeoutError",
    "SourceError",
    "SourceText",
    "Span",
    "did_you_mean",
    "raise_all",
    "unique_errors",
    "unknown",
]


@dataclass(frozen=True, slots=True)
class SourceText:
    """A text that errors point into: a YAML file, or a formula given on the command line."""

    name: str
    text: str

    def line(self, number: int) -> str:
        lines = self.text.split("\n")  # positions count "\n" only (splitlines also breaks at U+2028)
        return lines[number - 1] if 0 < number <= len(lines) else ""


@dataclass(frozen=True, slots=True)
class Span:
    """Where something is written: 1-based line and column, end exclusive."""

    source: SourceText | None
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    @property
    def file(self) -> str | None:
        return self.source.name if self.source else None

    def __str__(self) -> str:
        return f"{self.file or '<input>'}:{self.line}:{self.column}"


class KpiError(Exception):
    """Base of every kpi_engine error: one clear message with a position.

    ``file``, ``line`` and ``column`` are None only when nothing written by the
    user is at fault (a command-line option names itself in the message instead).
    """

    exit_code = 1
    default_code = "error"

    def __init__(
        self,
        message: str,
        *,
        span: Span | None = None,
        hint: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.code = code or self.default_code

    @property
    def file(self) -> str | None:
        return self.span.file if self.span else None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def column(self) -> int | None:
        return self.span.column if self.span else None

    @property
    def errors(self) -> list[KpiError]:
        return [self]

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        return f"{where}{self.message}"

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of an error, shared by the CLI and the HTTP API."""
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "hint": self.hint,
        }

    def render(self) -> str:
        """The error as editors read it, with the offending line and a caret."""
        head = f"{self.span}: " if self.span else ""
        out = [f"{head}error[{self.code}]: {self.message}"]
        span = self.span
        if span is not None and span.source is not None:
            text = span.source.line(span.line)
            if text.strip():
                gutter = " " * len(str(span.line))
                width = 1
                if span.end_line == span.line and span.end_column and span.end_column > span.column:
                    width = span.end_column - span.column
                out.append(f"{gutter} |")
                out.append(f"{span.line} | {text}")
                out.append(f"{gutter} | {' ' * (span.column - 1)}{'^' * width}")
        if self.hint:
            out.append(f"  = hint: {self.hint}")
        return "\n".join(out)


class DefinitionError(KpiError):
    """Something wrong in kpi.yml or a definition file."""

    default_code = "definition"


class FormulaError(DefinitionError):
    """A formula (or a query's --where) that does not parse or does not check."""

    default_code = "formula"


class QueryError(KpiError):
    """A query that cannot run as asked: unknown KPI, bad grain, bad dates."""

    default_code = "query"


class ForbiddenError(QueryError):
    """A query the caller may not make: a KPI or dimension outside its access (HTTP 403)."""

    default_code = "forbidden"


class SourceError(KpiError):
    """The data source failed: unreachable, refused, missing table, timeout."""

    exit_code = 3
    default_code = "source"


class EngineBugError(KpiError):
    """The engine could not parse SQL that kpi_engine wrote: a bug in kpi_engine, not in the definitions.

    Its rendering carries the statement, so that the report has what is needed to fix it.
    """

    default_code = "engine-bug"

    def __init__(self, message: str, *, statement: str, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message, hint=hint, code=code)
        self.statement = statement

    def render(self) -> str:
        indented = "\n".join("    " + line for line in self.statement.splitlines())
        return f"{super().render()}\n  = statement:\n{indented}"


class QueryTimeoutError(KpiError):
    """A query ran past its time limit and was cancelled on the engine (HTTP 504)."""

    exit_code = 3
    default_code = "timeout"


class ErrorGroup(KpiError):
    """Several errors found in one pass; validation reports them all at once."""

    def __init__(self, errors: Sequence[KpiError]) -> None:
        flat: list[KpiError] = []
        for error in errors:
            flat.extend(error.errors)
        first = flat[0]
        super().__init__(first.message, span=first.span, hint=first.hint, code=first.code)
        self._errors = flat

    @property
    def errors(self) -> list[KpiError]:
        return list(self._errors)

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        return max(error.exit_code for error in self._errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self._errors)

    def render(self) -> str:
        return "\n\n".join(error.render() for error in self._errors)


def raise_all(errors: Sequence[KpiError]) -> None:
    """Raise nothing, the one error, or an ErrorGroup of them all."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ErrorGroup(errors)


def unique_errors(errors: Iterable[KpiError], *, one_per_place: bool = False) -> list[KpiError]:
    """The errors without repeats of the same message at the same place (several checks may find one);
    with ``one_per_place``, only the first error at each place, whatever the others say."""
    seen: dict[tuple, KpiError] = {}
    for error in errors:
        place = (error.file, error.line, error.column)
        seen.setdefault(place if one_per_place else (*place, error.message), error)
    return list(seen.values())


def did_you_mean(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The closest candidate to a misspelt name, or None when nothing is close (``cutoff``: difflib's ratio)."""
    candidates = list(candidates)
    matches = difflib.get_close_matches(name, candidates, n=1, cutoff=cutoff)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            return lowered[name.lower()]
        return None
    return matches[0]


def unknown(
    kind: str,
    name: str,
    candidates: Iterable[str],
    *,
    where: str = "",
    otherwise: str = "",
    head: str | None = None,
    match: str | None = None,
    cutoff: float = 0.6,
) -> str:
    """The standard "unknown X 'y'; did you mean 'z'?" message: every such message is built here.

    ``where`` follows the name (" in dataset 'tickets'"); ``otherwise`` is said instead of the
    suggestion when no candidate is close (" (expected datasets or kpis)"); ``head`` replaces
    "unknown X 'y'" for a message that says it in other words ("format must be one of ...; got 'y'").
    ``match`` is the spelling compared with the candidates when it is not the name as shown (the
    name lower-cased, say); ``cutoff`` how close a candidate must be (difflib's ratio).
    """
    message = (f"unknown {kind} '{name}'" if head is None else head) + where
    compared = name if match is None else match
    suggestion = did_you_mean(compared, candidates, cutoff=cutoff)
    if suggestion is not None and suggestion != compared:
        return f"{message}; did you mean '{suggestion}'?"
    return message + otherwise
