"""kpi report against kpi run: the whole KPI library over 12 months of the demo data (not a test).

    python bench/report.py                    # 1M tickets (generated once into bench/data/, ~20 s)
    python bench/report.py --rows 100000      # a quick run

Prints, for the same query (every KPI that is not hidden, month by month over 2025):

1. in process, on one loaded project: ``Project.query`` of every KPI (what ``kpi run --all`` runs)
   against the report's whole work: the same query, the page rendered (Jinja2, SVG), the file written;
2. as processes: ``kpi run --all --from 2025-01-01 --to 2025-12-31 --format json`` against
   ``kpi report --from 2025-01-01 --to 2025-12-31``, both without the compile cache; and
   ``kpi report`` with no range (each KPI's own last 12 months: one query per set of datasets read);
3. the size of the HTML file.

Times are the best of 7 runs after a warm-up, the commands taking turns. The report must stay within 1.5x of the run and
its file under 1 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kpi_engine  # noqa: E402
from kpi_engine.report.gather import gather, select_kpis  # noqa: E402
from kpi_engine.report.page import render_report, write_atomically  # noqa: E402
from run import demo_project  # noqa: E402

START, END = "2025-01-01", "2025-12-31"
LIMIT_RATIO, LIMIT_BYTES = 1.5, 1_000_000


def alternately(*runs: Callable[[], object], repeat: int = 7) -> list[float]:
    """The best time of each run, the runs taking turns (so a busy moment of the machine hits all of them)."""
    for run in runs:
        run()  # warm-up: caches, buffers
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, spent in zip(runs, times):
            started = time.perf_counter()
            run()
            spent.append(time.perf_counter() - started)
    return [min(spent) for spent in times]


def in_process(root: Path, out: Path) -> list[float]:
    with kpi_engine.load(root) as project:
        names = select_kpis(project)

        def run() -> None:
            project.query(names, start=START, end=END)

        def report() -> None:
            write_atomically(out, render_report(gather(project, names, start=START, end=END)))

        return alternately(run, report)


def command(argv: list[str], cwd: Path) -> Callable[[], object]:
    env = {**os.environ, "KPI_ENGINE_NO_CACHE": "1"}
    return lambda: subprocess.run([sys.executable, "-m", "kpi_engine", *argv], cwd=cwd, env=env, check=True,
                                  stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="tickets in the demo data")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="where the demo databases are kept")
    args = parser.parse_args()
    root = demo_project(args.rows, args.data)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.html"
        print(f"{args.rows:,} tickets; every KPI that is not hidden, by month, {START} to {END}")
        run, report = in_process(root, out)
        print(f"  in process  Project.query {run * 1000:7.1f} ms   report (query, render, write) "
              f"{report * 1000:7.1f} ms   {report / run:.2f}x")
        window = ["--from", START, "--to", END]
        run, report, default = alternately(command(["run", "--all", *window, "--format", "json"], root),
                                           command(["report", *window, "--out", str(out)], root),
                                           command(["report", "--out", str(out) + ".default.html"], root))
        size = out.stat().st_size
        print(f"  processes   kpi run --all   {run * 1000:7.1f} ms   kpi report               "
              f"{report * 1000:7.1f} ms   {report / run:.2f}x")
        print(f"  kpi report without --from/--to (each KPI's own last 12 months): {default * 1000:.1f} ms, "
              f"{default / run:.2f}x kpi run --all")
        print(f"  HTML file: {size:,} bytes")
        ok = report / run <= LIMIT_RATIO and size < LIMIT_BYTES
        print(f"  {'ok' if ok else 'OVER'}: report within {LIMIT_RATIO}x of run, file under {LIMIT_BYTES:,} bytes")
        if not ok:
            sys.exit(1)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
