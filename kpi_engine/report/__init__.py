"""``kpi report`` and the live dashboard of ``kpi serve``: KPIs as a page of tiles and charts.

One job per module, in the order a report is made:

- ``gather``: the numbers, from ``Project.query`` (the headline is the last complete period);
- ``figures``: the change against the previous period, and the text of a change;
- ``shares``: which KPIs are shares of a total (100% of themselves without ``--by``);
- ``svg``: sparklines and charts drawn as inline SVG on the server;
- ``page``: the HTML, from the Jinja2 templates under ``templates/`` (autoescaped), written atomically;
- ``text``: the scorecard as a text table (what ``kpi demo`` prints).

Jinja2 is imported by ``page`` only, when a page is rendered, so ``kpi`` starts as fast without it.
"""

from __future__ import annotations

from .gather import KpiReport, Point, Report, gather

__all__ = ["KpiReport", "Point", "Report", "gather"]
