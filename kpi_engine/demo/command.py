"""``kpi demo``: a ready-to-edit project, realistic help-desk data, and the whole KPI library run on it.

In an empty folder it writes kpi.yml, definitions/ (a copy of the library) and
data/, then the HTML report of the library (report.html, as ``kpi report`` writes it); in an
existing project it only (re)writes the demo tables, and report.html when there is none. It
never overwrites a file, and refuses to write into a DuckDB database that it did not create
itself (one without the ``kpi_demo_info`` table).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DefinitionError, SourceError

if TYPE_CHECKING:
    from ..report.gather import Report

__all__ = ["library_path", "run_demo"]

DEMO_DATABASE = "data/helpdesk.duckdb"
REPORT_FILE = "report.html"  # written beside kpi.yml, as `kpi report` writes it
PROJECT_FILE = """\
# kpi_engine project written by `kpi demo`. Edit freely.
name: helpdesk
definitions: [definitions]
sources:
  default:
    connector: duckdb
    database: {database}        # relative to this file
"""


def library_path() -> Path:
    """The KPI library shipped with kpi_engine (inside the wheel, or the repository's definitions/)."""
    packaged = Path(__file__).resolve().parent.parent / "library"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "definitions"
    if checkout.is_dir():
        return checkout
    raise DefinitionError("the KPI library is missing from this installation of kpi_engine", code="no-library")


def _scaffold(root: Path, echo: Callable[[str], None]) -> None:
    """Write what is missing of a demo project; never touch an existing file."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "kpi.yml"
    if not config.exists():
        config.write_text(PROJECT_FILE.format(database=DEMO_DATABASE))
        echo(f"wrote {config}")
    definitions = root / "definitions"
    if not definitions.exists():
        shutil.copytree(library_path(), definitions)
        echo(f"wrote {definitions}/ (the KPI library: {len(list(definitions.glob('*.yml')))} files)")
    (root / "data").mkdir(exist_ok=True)


def _database(root: Path) -> Path:
    from ..project import load

    project = load(root)
    connector = project.connectors.get("default")
    path = getattr(connector, "path", None)
    if connector is None or connector.name != "duckdb" or path is None:
        raise DefinitionError("kpi demo writes into the default source, which must be a duckdb database file",
                              hint=f"set sources.default to connector: duckdb, database: {DEMO_DATABASE}",
                              code="demo")
    return path


def _write_data(path: Path, rows: int, echo: Callable[[str], None]) -> None:
    import duckdb

    from .data import generate

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with duckdb.connect(str(path), read_only=True) as con:
            mine = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'kpi_demo_info'").fetchone()[0]
        if not mine:
            raise SourceError(f"{path} exists and was not written by kpi demo; refusing to overwrite it",
                              hint="point sources.default at another file, or remove this one", code="demo")
    started = time.perf_counter()
    try:
        with duckdb.connect(str(path)) as con:
            counts = generate(con, rows)
    except duckdb.Error as exc:
        raise SourceError(f"cannot write the demo data to {path}: {exc}", code="demo") from exc
    took = time.perf_counter() - started
    summary = ", ".join(f"{n:,} {t}" for t, n in counts.items() if t != "kpi_demo_info")
    echo(f"wrote {summary} to {path} in {took:.1f} s")


def _write_report(report: Report, root: Path, echo: Callable[[str], None]) -> None:
    """The HTML report (as ``kpi report`` writes it) beside kpi.yml, unless a file of that name is there."""
    from ..report.page import render_report, write_atomically

    path = root / REPORT_FILE
    if path.exists():
        echo(f"kept {path}: kpi report writes it again")
        return
    write_atomically(path, render_report(report))
    echo(f"wrote {path}: open it in a browser")


def run_demo(root: Path, rows: int | None, *, echo: Callable[[str], None] = print) -> None:
    """Scaffold, write the data, then run the library over the data's last 12 months: an HTML report and a
    text summary of the same numbers."""
    from .data import DEFAULT_ROWS, LAST_DAY
    from ..report.gather import gather
    from ..report.text import months_up_to, scorecard_text

    root = root.resolve()
    _scaffold(root, echo)
    path = _database(root)
    _write_data(path, rows or DEFAULT_ROWS, echo)
    from ..project import load

    with load(root) as project:
        start, end = months_up_to(LAST_DAY)
        names = [k.name for k in project.kpis.values() if not k.hidden]
        report = gather(project, names, grain="month", start=start, end=end)
        _write_report(report, root, echo)
        echo("")
        echo(scorecard_text(report))
