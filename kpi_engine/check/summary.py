"""What ``kpi check`` finds: each KPI in its last complete month, judged against its target, with its change.

A KPI's last complete month is the last month of its own default range (the months ``kpi run KPI``
shows) that ends before the month holding today in the calendar's zone: the current month is still in
progress, and a month after it has not started. The previous month is the one before it, for the change.
Values are shown as ``kpi run`` shows them (``formatting.format_value``), judged by the one status rule
(``KpiDisplay.status``), and their change is the report's (``report.figures``), so a tile of ``kpi report``
and a line of ``kpi check`` agree; this module only picks the months and words the summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..compiler.periods import current_period
from ..errors import QueryError, unknown
from ..formatting import NULL, format_value, render_table
from ..report.figures import change, change_text

if TYPE_CHECKING:
    from ..project import Project
    from ..status import KpiDisplay

__all__ = ["Checked", "NothingToCheck", "evaluate", "format_change", "render", "select", "summary", "tally",
           "worst"]

#: how far each status is from good; --fail-on names the first that fails
SEVERITY = {"ok": 0, "warn": 1, "bad": 2}


class NothingToCheck(Exception):
    """The command line selects no KPI that can be checked: a usage problem, not a definition error."""


@dataclass(frozen=True)
class Checked:
    """One KPI in its last complete month (``period`` None when it has none) and the month before."""

    name: str
    title: str
    display: KpiDisplay
    period: str | None
    value: Any
    previous: Any

    @property
    def status(self) -> str | None:
        return self.display.status(self.value)

    @property
    def change(self) -> float | None:
        return change(self.value, self.previous, self.display.format)

    @property
    def formatted(self) -> str:
        return format_value(self.value, self.display)

    @property
    def target(self) -> str:
        return format_value(self.display.target, self.display)


def select(project: Project, names: Sequence[str] = (), tag: str | None = None) -> list[str]:
    """The KPIs to check: the named ones (with or without a target: a name asks to see it), else those
    with a target, of ``tag`` when given. An unknown name or tag is a QueryError, as for ``kpi run`` and
    ``kpi report``; a selection with nothing to judge raises NothingToCheck."""
    if names:
        for name in names:
            project.kpi(name)  # an unknown name: a QueryError with a did-you-mean
        return list(dict.fromkeys(names))
    kpis = project.kpis
    if tag is not None:
        tags = sorted({t for kpi in kpis.values() for t in kpi.tags})
        if tag not in tags:
            raise QueryError(unknown("tag", tag, tags, otherwise=f" (tags: {', '.join(tags) or 'none'})"),
                             code="unknown-tag")
        chosen = [name for name, kpi in kpis.items() if tag in kpi.tags and kpi.target is not None]
        if not chosen:
            raise NothingToCheck(f"no KPI tagged '{tag}' has a target: nothing to check; give one a target, "
                                 "or name the KPIs to check")
        return chosen
    chosen = [name for name, kpi in kpis.items() if kpi.target is not None]
    if not chosen:
        raise NothingToCheck("no KPI has a target: nothing to check; give a KPI a target (and a warning) in "
                             "its definition, or name the KPIs to check")
    return chosen


def evaluate(project: Project, names: Iterable[str]) -> list[Checked]:
    """Each KPI at grain month over its own default range (one query per KPI, as ``kpi run KPI``: KPIs
    of other datasets have other ranges), cut at the month in progress."""
    current = current_period(project.today(), "month", project.calendar)
    checked = []
    for name in names:
        kpi = project.kpi(name)
        result = project.query([name], grain="month")
        partial = set(result.partial_periods)
        months = [(period, value) for period, value in zip(result.column("period"), result.column(name))
                  if period < current and period not in partial]
        period, value = months[-1] if months else (None, None)
        previous = months[-2][1] if len(months) > 1 else None
        checked.append(Checked(name, kpi.display_title, kpi.display(), period, value, previous))
    return checked


def format_change(checked: Checked) -> str:
    """+1.5 pp for a percent KPI, +12.5% for the others (as the report writes them), - when null."""
    return change_text(checked.change, checked.display.format) or NULL


def tally(checked: Sequence[Checked]) -> str:
    """'1 bad, 2 warn, 3 ok' (the statuses that occur, worst first; KPIs without one counted apart)."""
    counts = {word: sum(1 for c in checked if c.status == word) for word in ("bad", "warn", "ok")}
    parts = [f"{n} {word}" for word, n in counts.items() if n]
    unjudged = sum(1 for c in checked if c.status is None)
    if unjudged:
        parts.append(f"{unjudged} without status")
    return ", ".join(parts)


def worst(checked: Sequence[Checked], fail_on: str) -> list[str]:
    """The KPIs whose status is ``fail_on`` or worse (``warn``: warn and bad; ``bad``: bad)."""
    return [c.name for c in checked if c.status is not None and SEVERITY[c.status] >= SEVERITY[fail_on]]


def text(project_name: str, checked: Sequence[Checked]) -> str:
    """The one readable message of a summary (Slack's ``text``): a headline, then a line per KPI, the
    worst first (a reader sees what needs attention before what is fine)."""
    lines = [f"kpi check of {project_name}: {tally(checked)}"]
    for c in sorted(checked, key=lambda c: -SEVERITY.get(c.status or "", -1)):
        word = c.status or "no status"
        target = f"target {c.target}" if c.display.target is not None else "no target"
        when = dt.date.fromisoformat(c.period).strftime("%B %Y") if c.period else "no complete month yet"
        lines.append(f"• {word}: {c.title} {c.formatted} ({target}, change {format_change(c)}, {when})")
    return "\n".join(lines)


def summary(project_name: str, checked: Sequence[Checked]) -> dict[str, Any]:
    """The JSON object ``--format json`` prints, ``--notify`` posts and notifier plugins receive."""
    return {
        "project": project_name,
        "text": text(project_name, checked),
        "kpis": [{"name": c.name, "title": c.title, "period": c.period, "value": c.value, "formatted": c.formatted,
                  "target": c.display.target, "status": c.status, "change": c.change} for c in checked],
    }


def render(checked: Sequence[Checked]) -> str:
    """The table ``kpi check`` prints: one line per KPI, then the tally."""
    rows = [[c.name, c.period or NULL, c.formatted, c.target, c.status or NULL, format_change(c)] for c in checked]
    table = render_table(["kpi", "period", "value", "target", "status", "change"], rows,
                         right=[False, False, True, True, False, True])
    return f"{table}\n{tally(checked)}"
