"""kpi_engine benchmarks (not tests): compile time, load time, generated SQL against hand-written SQL.

    python bench/run.py                      # 1M and 10M tickets (about 10 minutes, ~1 GB of data)
    python bench/run.py --sizes 100000       # a quick run

Prints, in one run:

1. compile time of queries in-process (median), and of a whole `kpi compile` process;
2. load + validate time of a generated project of 1,000 KPIs, in-process and as `kpi validate --no-source`;
3. for every KPI of the library, on the same DuckDB file: the time of the SQL kpi_engine generates against
   the time of the SQL an expert writes by hand (bench/hand_sql.py) for the same numbers, and their ratio;
   the numbers are compared, so a fast wrong query cannot pass;
4. a one-shot `kpi run` process against `python -c` running the hand-written SQL with duckdb,
   without and with the compile cache;
5. peak memory of those processes, and how many times the batch query scans each table.

Times are the best of several runs after a warm-up (median for compile times), on the same machine,
in the same process, so ratios compare like with like. The demo databases are kept in bench/data/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import duckdb  # noqa: E402

import kpi_engine  # noqa: E402
from kpi_engine.compiler import Query, QueryCompiler, dialect_for  # noqa: E402
from kpi_engine.demo.command import PROJECT_FILE, library_path  # noqa: E402
from kpi_engine.demo.data import generate  # noqa: E402

YEAR = {"start": "2025-01-01", "end": "2025-12-31"}
FIVE = ["ticket_volume", "first_contact_resolution", "first_response_time", "complaint_rate", "csat"]


def demo_project(rows: int, data: Path) -> Path:
    """A project over the demo data with ``rows`` tickets (generated once, then reused)."""
    root = data / f"helpdesk-{rows}"
    database = root / "data" / "helpdesk.duckdb"
    if not database.exists():
        (root / "data").mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with duckdb.connect(str(database)) as con:
            generate(con, rows)
        print(f"  generated {rows:,} tickets in {time.perf_counter() - started:.1f} s")
    if not (root / "definitions").exists():
        shutil.copytree(library_path(), root / "definitions")
    (root / "kpi.yml").write_text(PROJECT_FILE.format(database="data/helpdesk.duckdb"))
    return root


def best(run, repeat: int = 5) -> float:
    run()  # warm-up: caches, buffers
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def interleaved(con, first: str, second: str) -> tuple[float, float]:
    """Best times of two queries run alternately (so both see the same machine), at least 15 runs each
    and more for fast queries (a 2 ms query varies by about 0.5 ms from one run to the next)."""
    con.execute(first).fetchall()
    con.execute(second).fetchall()
    a, b, spent, runs = [], [], 0.0, 0
    while runs < 15 or (spent < 1.0 and runs < 200):
        for sql, out in ((first, a), (second, b)):
            started = time.perf_counter()
            con.execute(sql).fetchall()
            out.append(time.perf_counter() - started)
        spent = sum(a) + sum(b)
        runs += 1
    return min(a), min(b)


def process(argv: list[str], cwd: Path, env: dict[str, str] | None = None, repeat: int = 5) -> tuple[float, int]:
    """Median wall time and peak resident memory (MB) of a command.

    Memory comes from /usr/bin/time: a child's own rusage would include the pages of this
    (large) benchmark process at fork time.
    """
    timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    times, peak = [], 0
    for i in range(repeat + 1):
        started = time.perf_counter()
        done = subprocess.run([*timer, *argv], cwd=cwd, env=env or os.environ.copy(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr}")
        if timer:
            peak = max(peak, int(done.stderr.strip().splitlines()[-1]) // 1024)
        if i:  # the first run warms the file cache
            times.append(elapsed)
    return statistics.median(times), peak


# ------------------------------------------------------------------------------------------- 1. compile
def compile_times(project: kpi_engine.Project, root: Path) -> None:
    print("\n1. Compile time (median of 50, in-process; the project loaded once)")
    duck = dialect_for("duckdb")
    queries = {
        "1 KPI": Query.create(["ticket_volume"], **YEAR),
        "5 KPIs": Query.create(FIVE, **YEAR),
        "5 KPIs by channel": Query.create(FIVE, by=["channel"], **YEAR),
        "windows + stocks (4)": Query.create(["monthly_sales_growth", "active_customers", "churn_rate",
                                              "retention_rate"], **YEAR),
        "whole library (28)": Query.create([k for k in project.kpis], **YEAR),
    }
    for label, query in queries.items():
        samples = []
        for _ in range(50):
            compiler = QueryCompiler(project.catalog, project.binder, duck, project.sources.relation,
                                     project.sources.source_of)
            started = time.perf_counter()
            compiler.compile(query)
            samples.append(time.perf_counter() - started)
        print(f"   {label:24} {statistics.median(samples) * 1000:7.2f} ms   (aim for 5 KPIs: < 5 ms; MetricFlow 135 ms)")
    wall, memory = process([sys.executable, "-m", "kpi_engine", "compile", *FIVE, "--from", "2025-01-01",
                            "--to", "2025-12-31"], root)
    print(f"   `kpi compile` of 5 KPIs, whole process: {wall * 1000:.0f} ms, peak {memory} MB")


# ---------------------------------------------------------------------------------------------- 2. load
def thousand_kpis(folder: Path, source: Path) -> Path:
    """A project of 1,000 KPIs: the library's datasets, and variants of its formulas in 40 files."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "definitions").mkdir(parents=True)
    shutil.copy(source / "definitions" / "support.yml", folder / "definitions" / "support.yml")
    shutil.copy(source / "definitions" / "customers.yml", folder / "definitions" / "customers.yml")
    (folder / "kpi.yml").write_text(f"sources:\n  default:\n    connector: duckdb\n    database: {source}/data/helpdesk.duckdb\n")
    templates = [
        ("tickets", "count(where priority = '{p}' and channel = '{c}')", "not is_spam"),
        ("tickets", "avg(seconds_between(created_at, first_response_at) where channel = '{c}') / {n}", None),
        ("tickets", "count(where status in ('resolved', 'closed') and contacts = {n}) / count()", "not is_spam"),
        ("calls", "count(where wait_seconds <= {n} and queue = '{q}') / count(where queue = '{q}')", None),
        ("surveys", "count(where score >= {n} and channel = '{c}') / count(score)", "kind = 'csat'"),
        ("orders", "sum(amount where status = 'paid') / {n}", None),
        ("customers", "count(*, at=end) - count(*, at=start) + {n}", None),
        (None, "rolling(ticket_volume, {n}) / {n}", None),
    ]
    priorities, channels, queues = ["low", "normal", "high", "urgent"], ["email", "chat", "phone", "web"], \
        ["sales", "support", "billing"]
    count = 0
    for file_number in range(40):
        lines = ["kpis:"]
        for j in range(25):
            dataset, formula, kpi_filter = templates[count % len(templates)]
            body = formula.format(p=priorities[count % 4], c=channels[count % 4], q=queues[count % 3],
                                  n=count % 12 + 1)
            lines.append(f"  generated_{count:04d}:")
            lines.append(f"    title: Generated KPI {count}")
            lines.append(f"    description: Variant {count} of a library formula, to measure loading.")
            if dataset:
                lines.append(f"    dataset: {dataset}")
            lines.append(f'    formula: "{body}"')
            if kpi_filter:
                lines.append(f'    filter: "{kpi_filter}"')
            lines.append("    format: number")
            lines.append("    target: 1")
            count += 1
        (folder / "definitions" / f"generated_{file_number:02d}.yml").write_text("\n".join(lines) + "\n")
    return folder


def load_times(source: Path, data: Path) -> None:
    print("\n2. Load + validate a project of 1,000 KPIs (+ the library's 28)")
    folder = thousand_kpis(data / "thousand", source)
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        project = kpi_engine.load(folder)
        samples.append(time.perf_counter() - started)
    assert len(project.kpis) == 1028
    print(f"   in-process, imports done:           {statistics.median(samples) * 1000:6.0f} ms  (aim < 1 s; MetricFlow 13 s at 950)")
    wall, memory = process([sys.executable, "-m", "kpi_engine", "validate", "--no-source"], folder)
    print(f"   `kpi validate --no-source` process: {wall * 1000:6.0f} ms, peak {memory} MB")
    wall, memory = process([sys.executable, "-m", "kpi_engine", "validate"], folder)
    print(f"   `kpi validate` (columns checked):   {wall * 1000:6.0f} ms, peak {memory} MB")


# ----------------------------------------------------------------------------------------- 3. per KPI
def per_kpi(project: kpi_engine.Project, database: Path) -> list[float]:
    from hand_sql import QUERIES, rows as hand_rows

    con = duckdb.connect(str(database), read_only=True)
    ratios = []
    print(f"   {'KPI':28} {'generated':>10} {'by hand':>10} {'ratio':>6}  same numbers")
    for name in project.kpis:
        hand = QUERIES[name]
        query = Query.create([name], by=list(hand.by), **YEAR)
        sql = project.compiled(query).sql
        ours, theirs = interleaved(con, sql, hand.sql)
        engine_rows = project.query([name], by=list(hand.by), **YEAR).rows
        same = _same(engine_rows, hand_rows(con, name))
        ratios.append(ours / theirs)
        print(f"   {name:28} {ours * 1000:8.1f} ms {theirs * 1000:8.1f} ms {ours / theirs:6.2f}  {'yes' if same else 'NO'}")
    con.close()
    print(f"   median ratio {statistics.median(ratios):.2f}, max {max(ratios):.2f}  (aim: every ratio <= 1.10)")
    return ratios


def _same(a, b) -> bool:
    if len(a) != len(b):
        return False
    for row_a, row_b in zip(a, b):
        for x, y in zip(row_a, row_b):
            if isinstance(x, float) or isinstance(y, float):
                if x is None or y is None or abs(x - y) > 1e-9 * max(1.0, abs(x)):
                    return False
            elif x != y:
                return False
    return True


# ------------------------------------------------------------------------------------------ 4. one shot
def one_shot(root: Path, database: Path) -> None:
    from hand_sql import QUERIES

    print("\n4. One-shot process: `kpi run` against `python -c` running the hand-written SQL with duckdb")
    sql = QUERIES["first_contact_resolution"].sql
    code = f"import duckdb; c = duckdb.connect({str(database)!r}, read_only=True); c.execute({sql!r}).fetchall()"
    baseline, base_memory = process([sys.executable, "-c", code], root)
    kpi = [sys.executable, "-m", "kpi_engine", "run", "first_contact_resolution", "--from", "2025-01-01",
           "--to", "2025-12-31"]
    cold_env = {**os.environ, "KPI_ENGINE_NO_CACHE": "1"}
    cold, cold_memory = process(kpi, root, cold_env)
    warm_env = {**os.environ, "KPI_ENGINE_CACHE_DIR": str(root / ".bench-cache")}
    warm, warm_memory = process(kpi, root, warm_env)
    print(f"   python -c (duckdb, hand SQL)     {baseline * 1000:6.0f} ms, peak {base_memory} MB")
    print(f"   kpi run, no compile cache        {cold * 1000:6.0f} ms, peak {cold_memory} MB, x{cold / baseline:.2f}")
    print(f"   kpi run, compile cache           {warm * 1000:6.0f} ms, peak {warm_memory} MB, x{warm / baseline:.2f}"
          "  (aim: x1.5)")
    everything, memory = process([sys.executable, "-m", "kpi_engine", "run", "--all", "--from", "2025-01-01",
                                  "--to", "2025-12-31"], root, cold_env, repeat=3)
    print(f"   kpi run --all (28 KPIs, no cache) {everything * 1000:5.0f} ms, peak {memory} MB")


def scans(project: kpi_engine.Project) -> None:
    print("\n5. Reads of each dataset for the whole library in one query, counted in the plan")
    compiler = QueryCompiler(project.catalog, project.binder, dialect_for("duckdb"), project.sources.relation,
                             project.sources.source_of)
    names = [name for name in project.kpis if project.sources.source_of_kpis(project.binder, [name]) == "default"]
    plan = compiler.plan(Query.create(names, **YEAR))
    for dataset, count in plan.reads().items():
        print(f"   {dataset:16} read {count} time(s)")
    print("   (tickets twice: by created_at, and by resolved_at for backlog_change, as the hand-written SQL does; "
          "customers once: the stock and the flows by its signup_at and churned_at share one read)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    print(f"kpi_engine {kpi_engine.__version__}, duckdb {duckdb.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores")
    first = True
    for rows in args.sizes:
        print(f"\n=== {rows:,} tickets ===")
        root = demo_project(rows, args.data)
        project = kpi_engine.load(root)
        if first:
            compile_times(project, root)
            load_times(root, args.data)
            scans(project)
            first = False
        print(f"\n3. Every KPI of the library, month by month over 2025, on {rows:,} tickets "
              "(best of 15 or more alternated runs)")
        per_kpi(project, root / "data" / "helpdesk.duckdb")
        one_shot(root, root / "data" / "helpdesk.duckdb")
        project.close()


if __name__ == "__main__":
    main()
