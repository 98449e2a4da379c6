"""The scorecard as a text table: what ``kpi demo`` prints after writing its data.

One line per KPI: the value of the last month, its change against the month before, the target
and the status, all as the report states them (``gather``). A share of a total (``total()``) is
100% of itself without ``--by``: its line has no value, and a footnote gives the command that breaks
it down.
"""

from __future__ import annotations

import datetime as dt

from ..formatting import render_table
from ..project import Project
from .gather import KpiReport, Report, gather

__all__ = ["latest_values", "months_up_to", "scorecard_text"]

SHARE_MARK = "*"  # after a share KPI's title, and before its footnote


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def months_up_to(last_day: dt.date, months: int = 12) -> tuple[dt.date, dt.date]:
    """The first and last day of the ``months`` months that end with ``last_day``'s."""
    return _months_back(last_day, months - 1), last_day


def latest_values(project: Project, last_day: dt.date, months: int = 12) -> str:
    """Every visible KPI month by month over the ``months`` months up to ``last_day``; one line per KPI."""
    start, end = months_up_to(last_day, months)
    names = [k.name for k in project.kpis.values() if not k.hidden]
    return scorecard_text(gather(project, names, grain="month", start=start, end=end))


def scorecard_text(report: Report) -> str:
    """A month-by-month report as a title, a table of one line per KPI, and the shares' footnotes."""
    assert report.start is not None
    periods = sorted({p.period for k in report.kpis for p in k.points if p.period and not p.partial})
    month = periods[-1][:7] if periods else (report.end or report.start).isoformat()[:7]
    headers = ["KPI", month, "vs previous", "target", "status"]
    title = (f"{report.project}: {len(report.kpis)} KPIs, month by month from {report.start:%Y-%m} to {month}; "
             "latest month shown")
    table = render_table(headers, [_row(kpi) for kpi in report.kpis], right=[False, True, True, True, False])
    notes = [f"{SHARE_MARK} by dimension only: kpi run {kpi.name} --by {kpi.share_dimension}"
             for kpi in report.kpis if kpi.share]
    return "\n\n".join([title, table, *(["\n".join(notes)] if notes else [])])


def _row(kpi: KpiReport) -> list[str]:
    if kpi.share:  # no value, change or status: 100% of the whole is no news; the footnote says what to run
        return [f"{kpi.title} {SHARE_MARK}", "", "", kpi.target_text, ""]
    headline = kpi.headline
    return [kpi.title, headline.formatted if headline else "-", kpi.change_text, kpi.target_text,
            headline.status or "" if headline else ""]
