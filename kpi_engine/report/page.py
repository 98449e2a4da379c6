"""The report's HTML: Jinja2 templates (autoescaped: titles and descriptions are user text), one file.

The page carries its styles inline and, for the live dashboard only, its script; the report file
declares a Content-Security-Policy that lets it load nothing from anywhere, so it opens offline and
cannot leak what it shows. Jinja2 is imported here, when a page is rendered, never when ``kpi`` starts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..compiler.periods import GRAINS
from ..formatting import format_value
from . import svg
from .gather import KpiReport, Report

if TYPE_CHECKING:
    import jinja2

__all__ = ["REPORT_POLICY", "dashboard_policy", "render_dashboard", "render_report", "write_atomically"]

#: the report file loads nothing: styles inline, images as data: only, no script
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _resource(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FunctionLoader(_load), autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)
    environment.globals.update(sparkline=_sparkline, chart=_chart, bars=_bars, short=svg.period_label)
    return environment


def _load(name: str) -> str:
    return _resource(name)


def _markup(text: str) -> Any:
    from markupsafe import Markup

    return Markup(text)  # noqa: S704 - SVG built by svg.py, which escapes every text it holds


def _sparkline(kpi: KpiReport) -> Any:
    return _markup(svg.sparkline(kpi.points, kpi.target))


def _chart(kpi: KpiReport, grain: str) -> Any:
    return _markup(svg.chart(kpi.points, target=kpi.target, warning=kpi.warning, fmt=lambda v: format_value(v, kpi),
                             grain=grain, label=f"{kpi.title}, by period", described_by=f"values-{kpi.name}"))


def _bars(kpi: KpiReport, column: int, period: str) -> Any:
    assert kpi.breakdown is not None
    return _markup(svg.bars(kpi.breakdown, column, label=f"{kpi.title} by {', '.join(kpi.breakdown.dimensions)}, "
                                                          f"{period}"))


def render_report(report: Report) -> str:
    """The self-contained report page."""
    return _environment().get_template("report.html.j2").render(
        report=report, live=False, css=_markup(_resource("report.css")), policy=REPORT_POLICY, script="",
        grains=GRAINS, dimensions=[])


def render_dashboard(project_name: str, dimensions: list[str]) -> tuple[str, str]:
    """The live dashboard page (no data: its script reads /query) and the Content-Security-Policy that serves it."""
    script = _resource("dashboard.js")
    empty = Report(project_name, "month", (), None, None, None, None, [])
    page = _environment().get_template("report.html.j2").render(
        report=empty, live=True, css=_markup(_resource("report.css")), policy="", script=_markup(script),
        grains=GRAINS, dimensions=dimensions)
    return page, dashboard_policy(script)


def dashboard_policy(script: str) -> str:
    """Only this page's own script (by its hash), its inline styles, and requests back to the server."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder: a failure leaves no partial file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as open() would create it, not mkstemp's 0600
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
