"""The demo's summary: each KPI's latest value, its change against the period before, its status."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from ..formatting import format_value, render_table
from ..project import Project

__all__ = ["latest_values"]


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def latest_values(project: Project, last_day: dt.date, months: int = 12) -> str:
    """Run every visible KPI month by month over the last ``months`` months; one line per KPI."""
    start = _months_back(last_day, months - 1)
    kpis = [k for k in project.kpis.values() if not k.hidden]
    by_source: dict[str, list[str]] = defaultdict(list)
    for kpi in kpis:
        by_source[project.source_of(kpi.name)].append(kpi.name)
    series: dict[str, list[object]] = {}
    periods: list[str] = []
    for names in by_source.values():
        result = project.query(names, grain="month", start=start, end=last_day)
        periods = result.column("period")
        for name in names:
            series[name] = result.column(name)
    rows = []
    for kpi in kpis:
        values = series[kpi.name]
        latest = values[-1] if values else None
        before = values[-2] if len(values) > 1 else None
        status = kpi.status(latest)
        rows.append([
            kpi.display_title,
            format_value(latest, kpi),
            _change(latest, before, kpi.format),
            format_value(kpi.target, kpi) if kpi.target is not None else "",
            {"ok": "ok", "warn": "WARN", "bad": "BAD"}.get(status or "", ""),
        ])
    month = periods[-1][:7] if periods else last_day.isoformat()[:7]
    headers = ["KPI", f"{month}", "vs previous", "target", "status"]
    title = f"{project.name}: {len(kpis)} KPIs, month by month from {start:%Y-%m} to {month}; latest month shown"
    return title + "\n\n" + render_table(headers, rows, right=[False, True, True, True, False])


def _change(latest: object, before: object, fmt: str) -> str:
    if not isinstance(latest, (int, float)) or not isinstance(before, (int, float)):
        return ""
    if fmt == "percent":
        return f"{(latest - before) * 100:+.1f} pp"
    if before == 0:
        return ""
    return f"{(latest - before) / abs(before) * 100:+.1f}%"
