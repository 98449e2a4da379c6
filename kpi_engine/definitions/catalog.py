"""Every dataset and KPI of a project, with where each was written.

The catalog is plain data, built by ``project`` from the definition files and
read by ``binder`` (meaning), ``validation`` (rules across definitions) and the
compiler. Keeping the position of each definition beside its model is what
lets any later stage point an error at the right file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from typing import TYPE_CHECKING

from ..errors import Span
from .loader import YamlDocument
from .model import Dataset, Kpi

if TYPE_CHECKING:
    from ..formulas.functions import FunctionSpec

__all__ = ["Catalog", "DatasetEntry", "KpiEntry"]


@dataclass(slots=True)
class _Entry:
    name: str
    document: YamlDocument
    path: tuple[Any, ...]

    def span(self, *sub: Any) -> Span:
        """Where a field of this definition is written (the definition itself without ``sub``)."""
        return self.document.span_at(self.path + sub)

    @property
    def name_span(self) -> Span:
        return self.document.key_span(self.path)

    def value(self, *sub: Any) -> Any:
        """A field of this definition as written (``FormulaText.of`` makes a formula of it)."""
        value = self.document.data
        for key in self.path + sub:
            value = value[key]
        return value


@dataclass(slots=True)
class DatasetEntry(_Entry):
    model: Dataset


@dataclass(slots=True)
class KpiEntry(_Entry):
    model: Kpi


@dataclass(slots=True)
class Catalog:
    datasets: dict[str, DatasetEntry] = field(default_factory=dict)
    kpis: dict[str, KpiEntry] = field(default_factory=dict)
    #: the functions formulas may call: the built-in ones and those plugins add (given by the project)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    #: names whose definitions failed to load (their errors are already reported)
    broken: set[str] = field(default_factory=set)
    #: a file failed to parse: names may be missing, so unknown names are not reported
    incomplete: bool = False
    #: environment variables the definition files read (see YamlDocument.variables)
    variables: dict[str, str | None] = field(default_factory=dict)

    def missing(self, name: str) -> bool:
        """A name nothing can be said about, because its own error is already reported."""
        return name in self.broken or self.incomplete
