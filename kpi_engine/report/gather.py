"""The numbers of a report, from ``Project.query``: per KPI its periods, headline, change and status.

Without ``start``/``end`` each KPI reports the 12 periods ending at the last complete period of its own
default range (``kpi run KPI`` shows that range), plus the period in progress when there is one, marked
partial. KPIs that read the same datasets share a default range, so they run as one query; with both
bounds given every KPI has the same range and the whole report is one query, the one
``kpi run --all --from --to`` runs. Each period's value does not depend on the range it is asked in
(``previous``, ``rolling`` and ``cumulative`` read outside it), so cutting a longer result to the
reported periods gives the numbers ``kpi run`` gives for them.

With ``by``, the tiles keep the totals and each KPI's section gets a breakdown, from a second query
over exactly the reported periods (``kpi run KPI --by D --from FIRST --to LAST``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..compiler.periods import Calendar, end_date, index_of
from ..errors import QueryError, unknown
from ..formulas.binder import atoms_of
from ..formatting import format_value
from ..project import Project
from ..result import Result
from .figures import change, change_text
from .shares import is_share, suggested_dimension

__all__ = ["Breakdown", "KpiReport", "Point", "Report", "gather", "select_kpis"]

PERIODS = 12  # reported periods without --from/--to, ending at the last complete one


@dataclass(frozen=True)
class Point:
    """One reported period of a KPI: its label (None at grain all), value, text and status."""

    period: str | None
    value: Any
    formatted: str
    status: str | None
    partial: bool = False


@dataclass(frozen=True)
class Breakdown:
    """A KPI by ``dimensions``: one row per combination of their values, one value per period."""

    dimensions: tuple[str, ...]
    periods: list[str | None]
    rows: list[tuple[tuple[str, ...], list[Point]]]


@dataclass(frozen=True)
class KpiReport:
    """Everything the page shows of one KPI."""

    name: str
    title: str
    description: str | None
    formula: str
    owner: str | None
    tags: list[str]
    datasets: list[str]
    uses: list[str]
    format: str
    unit: str | None
    decimals: int | None
    direction: str
    target: float | None
    warning: float | None
    target_text: str
    warning_text: str
    points: list[Point]
    headline: Point | None
    previous: Point | None
    change: float | None
    change_text: str
    share: bool = False
    share_dimension: str | None = None
    breakdown: Breakdown | None = None
    breakdown_note: str | None = None

    @property
    def status(self) -> str:
        """ok / warn / bad of the headline, or none (no target, no value): the tile's ``data-status``."""
        return (self.headline.status if self.headline is not None else None) or "none"


@dataclass(frozen=True)
class Report:
    """A report: the project, the query it answers, and its KPIs in order."""

    project: str
    grain: str
    by: tuple[str, ...]
    where: str | None
    start: dt.date | None
    end: dt.date | None
    timezone: str | None
    kpis: list[KpiReport]
    generated: str = ""
    partial_periods: list[str] = field(default_factory=list)

    def range_text(self, label: Callable[[str, str], str] = lambda period, grain: period) -> str:
        """The reported periods, as a person reads them (``label`` shortens a period's label)."""
        periods = sorted({p.period for k in self.kpis for p in k.points if p.period})
        if not periods:
            return "all time" if self.grain == "all" else "no periods"
        first, last = label(periods[0], self.grain), label(periods[-1], self.grain)
        return first if first == last else f"{first} to {last}"


def select_kpis(project: Project, names: Sequence[str] = (), tag: str | None = None) -> list[str]:
    """The KPIs named (hidden ones too), or those tagged ``tag``, or every KPI that is not hidden.

    An unknown name or tag is a QueryError with a did-you-mean (exit status 1, as ``kpi run``)."""
    if names:
        for name in names:
            project.kpi(name)
        return list(dict.fromkeys(names))
    kpis = [k for k in project.kpis.values() if not k.hidden]
    if tag is None:
        return [k.name for k in kpis]
    chosen = [k.name for k in kpis if tag in k.tags]
    if not chosen:
        tags = sorted({t for k in kpis for t in k.tags})
        raise QueryError(unknown("tag", tag, tags, otherwise=f" (tags: {', '.join(tags)})" if tags else
                                 " (no KPI has a tag)"), code="unknown-tag")
    return chosen


def gather(project: Project, names: Sequence[str], *, grain: str = "month", by: Sequence[str] = (),
           where: str | None = None, start: dt.date | None = None, end: dt.date | None = None,
           timezone: str | None = None) -> Report:
    """Run the report's queries and shape their results (errors are the queries' own KpiErrors)."""
    names = list(names)
    by = tuple(by)
    options = dict(grain=grain, where=where, timezone=timezone)
    reports: dict[str, KpiReport] = {}
    partial: set[str] = set()
    spans: list[tuple[dt.date, dt.date]] = []
    for group in _groups(project, names, start, end):
        first, last = start, end
        if not project.binder.datasets_of(group[0]) and spans and (start is None or end is None):
            # constants read no dataset, so they have no range of their own: they take the others'
            first, last = start or min(s for s, _ in spans), end or max(e for _, e in spans)
        result = project.query(group, start=first, end=last, **options)
        partial.update(result.partial_periods)
        result = _reported(result, keep_last=PERIODS if start is None else None)
        spans += _span(project, result, options)
        breakdowns, note = _breakdowns(project, group, result, by, start, end, options)
        for name in group:
            reports[name] = _kpi_report(project, name, result, breakdowns.get(name), note)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Report(project.name, grain, by, where, start, end, timezone, [reports[n] for n in names], generated,
                  sorted(partial))


def _groups(project: Project, names: list[str], start: dt.date | None, end: dt.date | None) -> list[list[str]]:
    """KPIs that share a default range, those that read no dataset last; all of them together when both
    bounds are given.

    A query's default range runs from the first to the last period with rows its aggregates read: rows of a
    dataset, after the KPI's ``filter``, placed by the time column (``time=``) or lifetime (``at=``) they use.
    A ``where`` inside an aggregate and previous() do not move it. KPIs with the same such reads share a
    range; grouping only by dataset would give a KPI filtered to early rows the range of its neighbours."""
    if start is not None and end is not None:
        return [names]
    groups: dict[frozenset, list[str]] = {}
    for name in names:
        reads = frozenset((atom.dataset, atom.kpi_filter, atom.time, atom.at)
                          for atom in atoms_of(project.binder.metric(name)))
        groups.setdefault(reads, []).append(name)
    return sorted(groups.values(), key=lambda group: not project.binder.datasets_of(group[0]))


def _calendar(project: Project, timezone: str | None) -> Calendar:
    return project.calendar if timezone is None else dataclasses.replace(project.calendar, timezone=timezone)


def _span(project: Project, result: Result, options: dict[str, Any]) -> list[tuple[dt.date, dt.date]]:
    """The first and last day of the result's periods; none at grain all or without rows."""
    if "period" not in result.columns or not result.rows:
        return []
    periods = result.column("period")
    grain, calendar = options["grain"], _calendar(project, options["timezone"])
    last = index_of(dt.date.fromisoformat(periods[-1]), grain, calendar)
    return [(dt.date.fromisoformat(periods[0]), end_date(last, grain, calendar) - dt.timedelta(days=1))]


def _reported(result: Result, keep_last: int | None) -> Result:
    """The result cut to ``keep_last`` periods ending at the last complete one (and the partial one after it)."""
    if keep_last is None or "period" not in result.columns or not result.rows:
        return result
    periods = result.column("period")
    last = _last_complete(periods, result.partial_periods)
    if last is None:
        return result
    first = max(0, last - keep_last + 1)
    return dataclasses.replace(result, rows=[r for r, p in zip(result.rows, periods) if p >= periods[first]])


def _last_complete(periods: list[str], partial: Sequence[str]) -> int | None:
    """The index of the last period before the one in progress (periods are sorted, labels are ISO dates)."""
    cut = min(partial) if partial else None
    complete = [i for i, p in enumerate(periods) if cut is None or p < cut]
    return complete[-1] if complete else None


def _breakdowns(project: Project, group: list[str], result: Result, by: tuple[str, ...], start: dt.date | None,
                end: dt.date | None, options: dict[str, Any]) -> tuple[dict[str, Breakdown], str | None]:
    """Each KPI of ``group`` by ``by`` over the reported periods; KPIs a dimension does not apply to get none."""
    if not by:
        return {}, None
    usable = _usable(project, group, by)
    if not usable:
        return {}, f"{', '.join(by)} is not a dimension of every dataset these KPIs read"
    for first, last in _span(project, result, options):
        start, end = start or first, end or last
    broken = project.query(usable, by=by, start=start, end=end, **options)
    return {name: _breakdown(broken, name, by) for name in usable}, None


def _usable(project: Project, group: list[str], by: tuple[str, ...]) -> list[str]:
    """The KPIs of ``group`` whose every dataset defines every ``by`` dimension; an unknown dimension is an error."""
    found = {d["name"]: set(d["kpis"]) for d in project.dimensions()}
    for dimension in by:
        if dimension not in found:
            raise QueryError(unknown("dimension", dimension, found), code="unknown-dimension")
    return [name for name in group if all(name in found[d] for d in by)]


def _breakdown(result: Result, name: str, by: tuple[str, ...]) -> Breakdown:
    kpi = result.kpis[name]
    has_period = "period" in result.columns
    periods = list(dict.fromkeys(result.column("period"))) if has_period else [None]
    partial = set(result.partial_periods)
    rows: dict[tuple[str, ...], dict[str | None, Point]] = {}
    for record in result.to_dicts():
        key = tuple(format_value(record[d]) for d in by)
        period = record.get("period")
        value = record[name]
        rows.setdefault(key, {})[period] = Point(period, value, format_value(value, kpi), kpi.status(value),
                                                  period in partial)
    empty = Point(None, None, format_value(None), None)
    return Breakdown(by, periods, [(key, [cells.get(p, empty) for p in periods]) for key, cells in rows.items()])


def _kpi_report(project: Project, name: str, result: Result, breakdown: Breakdown | None,
                note: str | None) -> KpiReport:
    kpi = result.kpis[name]
    partial = set(result.partial_periods)
    periods = result.column("period") if "period" in result.columns else [None] * len(result.rows)
    points = [Point(p, v, format_value(v, kpi), kpi.status(v), p in partial)
              for p, v in zip(periods, result.column(name))]
    complete = [p for p in points if not p.partial]
    headline = complete[-1] if complete else None
    previous = complete[-2] if len(complete) > 1 else None
    delta = change(headline.value, previous.value, kpi.format) if headline and previous else None
    share = is_share(project, name)
    return KpiReport(
        name=name, title=kpi.display_title, description=(kpi.description or "").strip() or None,
        formula=project.catalog.kpis[name].model.formula.strip(), owner=kpi.owner, tags=list(kpi.tags),
        datasets=sorted(project.binder.datasets_of(name)), uses=project.binder.uses(name), format=kpi.format,
        unit=kpi.unit, decimals=kpi.decimals, direction=kpi.direction, target=kpi.target, warning=kpi.warning,
        target_text=format_value(kpi.target, kpi) if kpi.target is not None else "",
        warning_text=format_value(kpi.warning, kpi) if kpi.warning is not None else "",
        points=points, headline=headline, previous=previous, change=delta, change_text=change_text(delta, kpi.format),
        share=share, share_dimension=suggested_dimension(project, name) if share else None,
        breakdown=breakdown, breakdown_note=note if breakdown is None else None)
