"""The result of a query: columns, rows, the SQL that ran, and what each KPI means."""

from __future__ import annotations

import dataclasses
import datetime as dt

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .compiler.periods import UTC, Calendar, current_period

if TYPE_CHECKING:
    from .definitions.model import Kpi
    from .status import KpiDisplay


__all__ = ["Result", "query_body"]

#: What ``meta.kpis`` of a query body holds about each KPI: the fields its values are shown and judged by.
KPI_META = ("title", "format", "unit", "decimals", "target", "warning", "direction")


@dataclass(frozen=True)
class Result:
    """Rows as tuples, in the column order of SPEC §5: period, dimensions, KPIs."""

    columns: list[str]
    rows: list[tuple]
    sql: str
    #: the KPIs' definitions; a cached ``kpi run`` has only their display fields
    kpis: Mapping[str, Kpi | KpiDisplay] = field(default_factory=dict)
    dimensions: tuple[str, ...] = ()
    grain: str = "month"
    #: the periods still in progress (the one holding the current instant), as their labels
    partial_periods: list[str] = field(default_factory=list)

    def marked_partial(self, today: dt.date, calendar: Calendar = UTC) -> Result:
        """A copy with ``partial_periods``: the reported period that holds ``today`` (a local day), if any."""
        if "period" not in self.columns:
            return self
        label = current_period(today, self.grain, calendar)
        return dataclasses.replace(self, partial_periods=[label] if label in self.column("period") else [])

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def with_status(self) -> Result:
        """A copy with ``KPI__status`` (ok / warn / bad / null) after each KPI that has a target."""
        columns: list[str] = []
        plan: list[tuple[int, Kpi | KpiDisplay | None]] = []
        for i, name in enumerate(self.columns):
            columns.append(name)
            plan.append((i, None))
            kpi = self.kpis.get(name)
            if kpi is not None and kpi.target is not None:
                columns.append(f"{name}__status")
                plan.append((i, kpi))
        rows = [tuple(kpi.status(row[i]) if kpi is not None else row[i] for i, kpi in plan) for row in self.rows]
        return dataclasses.replace(self, columns=columns, rows=rows)

    def to_pandas(self):
        """A pandas DataFrame (``pip install 'kpi-engine[pandas]'``)."""
        pd = _optional("pandas", extra="pandas", method="to_pandas")
        return pd.DataFrame.from_records(self.rows, columns=self.columns)

    def to_arrow(self):
        """A pyarrow Table (``pip install 'kpi-engine[arrow]'``)."""
        pa = _optional("pyarrow", extra="arrow", method="to_arrow")
        return pa.table({name: [row[i] for row in self.rows] for i, name in enumerate(self.columns)})

    def sorted(self) -> Result:
        """Rows by period, then dimensions with nulls last, the same on every engine."""
        keys = len(self.columns) - len(self.kpis)

        def key(row: Sequence[Any]):
            return tuple((value is None, _sortable(value)) for value in row[:keys])

        return dataclasses.replace(self, rows=sorted(self.rows, key=key))


def query_body(result: Result, *, cached: bool = False) -> dict[str, Any]:
    """The body of the HTTP API's ``/query``, which ``kpi mcp``'s query tool answers too: ``{"columns",
    "rows", "meta": {"kpis", "partial_periods", "cached"}}``, rows as objects as ``kpi run --format json``
    prints them (numbers as numbers, percent KPIs as fractions), ``meta.kpis`` the display fields of each
    KPI column (``title`` its display title)."""
    kpis = {name: {field: getattr(kpi, "display_title", kpi.name) if field == "title" else getattr(kpi, field, None)
                   for field in KPI_META} for name, kpi in result.kpis.items()}
    return {"columns": list(result.columns), "rows": result.to_dicts(),
            "meta": {"kpis": kpis, "partial_periods": list(result.partial_periods), "cached": cached}}


def _optional(module: str, *, extra: str, method: str) -> ModuleType:
    """An optional dependency, imported when a method needs it; else an ImportError that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{method}() needs {module}: pip install 'kpi-engine[{extra}]'") from exc


def _sortable(value: Any) -> tuple:
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))
