"""The demo's summary: each KPI's latest value, its change against the period before, its status.

Statuses are spelled as ``kpi run --status`` spells them; a figure that means
nothing without ``--by`` (a share of a total) is left out, with a footnote.
"""

from __future__ import annotations

import datetime as dt

from ..formulas.binder import atoms_of
from ..formatting import format_value, render_table
from ..definitions.model import Kpi
from ..project import Project

__all__ = ["is_share", "latest_values"]

SHARE_MARK = "*"  # after a share KPI's title, and before its footnote


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def latest_values(project: Project, last_day: dt.date, months: int = 12) -> str:
    """Run every visible KPI month by month over the last ``months`` months; one line per KPI.

    A share KPI (one that uses ``total()``) is 100% of itself without ``--by``,
    so it is not run: its line has no value, and a footnote says how to see it.
    """
    start = _months_back(last_day, months - 1)
    kpis = [k for k in project.kpis.values() if not k.hidden]
    shares = {kpi.name for kpi in kpis if is_share(project, kpi.name)}
    by_source = project.sources.by_source(project.binder, [kpi.name for kpi in kpis if kpi.name not in shares])
    series: dict[str, list[object]] = {}
    periods: list[str] = []
    for names in by_source.values():
        result = project.query(names, grain="month", start=start, end=last_day)
        periods = result.column("period")
        for name in names:
            series[name] = result.column(name)
    rows = [_share_row(kpi) if kpi.name in shares else _row(kpi, series[kpi.name]) for kpi in kpis]
    month = periods[-1][:7] if periods else last_day.isoformat()[:7]
    headers = ["KPI", f"{month}", "vs previous", "target", "status"]
    title = f"{project.name}: {len(kpis)} KPIs, month by month from {start:%Y-%m} to {month}; latest month shown"
    table = render_table(headers, rows, right=[False, True, True, True, False])
    notes = [f"{SHARE_MARK} by dimension only: kpi run {kpi.name} --by {_breakdown(project, kpi.name)}"
             for kpi in kpis if kpi.name in shares]
    return "\n\n".join([title, table, *(["\n".join(notes)] if notes else [])])


def is_share(project: Project, name: str) -> bool:
    """Whether a KPI reads a ``total()``: then, without ``--by``, it compares a number with itself."""
    return any(atom.total for atom in atoms_of(project.binder.metric(name)))


def _row(kpi: Kpi, values: list[object]) -> list[str]:
    latest = values[-1] if values else None
    before = values[-2] if len(values) > 1 else None
    return [
        kpi.display_title,
        format_value(latest, kpi),
        _change(latest, before, kpi.format),
        format_value(kpi.target, kpi) if kpi.target is not None else "",
        kpi.status(latest) or "",  # ok / warn / bad, as kpi run --status spells them
    ]


def _share_row(kpi: Kpi) -> list[str]:
    """No value, change or status: 100% of the whole is no news; the footnote says what to run."""
    target = format_value(kpi.target, kpi) if kpi.target is not None else ""
    return [f"{kpi.display_title} {SHARE_MARK}", "", "", target, ""]


def _breakdown(project: Project, name: str) -> str:
    """A dimension every dataset of the KPI defines: the one its name mentions, else the first."""
    datasets = [project.datasets[d] for d in dict.fromkeys(a.dataset for a in atoms_of(project.binder.metric(name)))]
    common = [d for d in datasets[0].dimensions if all(d in other.dimensions for other in datasets[1:])]
    named = [d for d in common if d in name.split("_")]
    return (named or common or ["DIMENSION"])[0]


def _change(latest: object, before: object, fmt: str) -> str:
    """Percent KPIs move in percentage points (73.1% -> 73.2% is +0.1 pp); others by a relative %."""
    if not isinstance(latest, (int, float)) or not isinstance(before, (int, float)):
        return ""
    if fmt == "percent":
        return _signed((latest - before) * 100) + " pp"
    if before == 0:
        return ""
    return _signed((latest - before) / abs(before) * 100) + "%"


def _signed(number: float) -> str:
    """+1.5, -0.3, and +0.0 for a change that rounds to nothing (never -0.0)."""
    text = f"{number:+.1f}"
    return "+0.0" if text == "-0.0" else text
