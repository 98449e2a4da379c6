"""What a business calendar costs: the library's ticket KPIs cut in UTC against the same KPIs cut in
America/Sao_Paulo, on the same DuckDB file (not a test).

    python bench/timezones.py                  # 1M demo tickets (generated once into bench/data/)
    python bench/timezones.py --rows 100000    # a quick run
    python bench/timezones.py --show-sql       # also print both statements
    python bench/timezones.py --zone America/New_York   # a zone with DST: a few offsets within the data's range

For each query (grain month, with and without --from/--to), the SQL kpi_engine generates for the
calendar UTC and for --timezone America/Sao_Paulo runs alternately in one process, on one read-only
connection opened the way the connector opens it (session pinned to UTC), so both see the same machine;
the times are medians of the repeats and the ratio is zone / UTC. The aim is 1.2x at most: a month is
cut by adding the zone's offset (known at compile time) to each row's UTC time where one offset holds over
the range read, and by comparing the time with the UTC instants the months start at where the clocks change
in it (five comparisons a row for two years, instead of picking an offset then reading the year and month),
not by converting it. Without --from/--to, the zone's side runs what ``project.query`` runs: the first and last time of the
rows (a MIN/MAX DuckDB answers from its statistics), then the SQL cut with the offsets of that range only,
in one transaction (the offsets of 1970 to next year cost three times the UTC query in a CASE per row).
With --from/--to both must report the same months (a different list would be a bug, not a cost).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kpi_engine  # noqa: E402
from kpi_engine.compiler.query import Query  # noqa: E402
from kpi_engine.sources.opening import open_duckdb  # noqa: E402
from run import demo_project  # noqa: E402

TICKET_KPIS = ["ticket_volume", "tickets_per_day", "backlog_change", "first_response_time",
               "average_resolution_time", "first_contact_resolution", "complaints", "complaint_rate"]
ZONE = "America/Sao_Paulo"
QUERIES = {
    "month, 2025": {"grain": "month", "start": "2025-01-01", "end": "2025-12-31"},
    "month, all rows": {"grain": "month"},
}


def medians(con, first: list[str], second: list[str], repeats: int) -> tuple[float, float]:
    """Median times of two lists of statements run alternately (after a warm-up of each)."""
    def run(statements: list[str]) -> None:
        for sql in statements:
            con.execute(sql).fetchall()

    run(first)
    run(second)
    a, b = [], []
    for _ in range(repeats):
        for statements, out in ((first, a), (second, b)):
            started = time.perf_counter()
            run(statements)
            out.append(time.perf_counter() - started)
    return statistics.median(a), statistics.median(b)


def statements(project: kpi_engine.Project, con, query: Query) -> list[str]:
    """What ``project.query`` runs for ``query``: its SQL; or, where a zone's offsets cut periods over a
    range the query does not bound, the range of the rows' times first, then the SQL cut by the offsets of
    that range, in one transaction."""
    compiled = project.compiled(query)
    if compiled.extent_sql is None:
        return [compiled.sql]
    values = con.execute(compiled.extent_sql).fetchall()[0]
    extents = tuple((dataset, column, first, last + dt.timedelta(microseconds=1))
                    for (dataset, column), first, last in zip(compiled.extent_keys, values[::2], values[1::2]))
    ranged = project.compiled(dataclasses.replace(query, extents=extents))
    return ["BEGIN TRANSACTION", compiled.extent_sql, ranged.sql, "ROLLBACK"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="demo tickets (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=15, help="runs of each statement (default 15)")
    parser.add_argument("--show-sql", action="store_true", help="print both statements of each query")
    parser.add_argument("--zone", default=ZONE, help=f"the calendar's zone (default {ZONE})")
    args = parser.parse_args(argv)

    root = demo_project(args.rows, HERE / "data")
    database = root / "data" / "helpdesk.duckdb"
    project = kpi_engine.load(root)
    con = open_duckdb(str(database), database=str(database), source="bench")
    print(f"{len(TICKET_KPIS)} ticket KPIs on {args.rows:,} demo tickets, DuckDB, "
          f"median of {args.repeats} interleaved runs each")
    worst = 0.0
    try:
        for label, query in QUERIES.items():
            utc = statements(project, con, Query.create(TICKET_KPIS, **query))
            local = statements(project, con, Query.create(TICKET_KPIS, timezone=args.zone, **query))
            if args.show_sql:
                print(f"-- {label}, UTC\n{';'.join(utc)}\n-- {label}, {args.zone}\n{';'.join(local)}\n")
            if "start" in query and [r[0] for r in con.execute(utc[-1]).fetchall()] != \
                    [r[0] for r in con.execute(local[-2 if len(local) > 1 else -1]).fetchall()]:
                raise SystemExit(f"{label}: the two calendars report different months")
            t_utc, t_local = medians(con, utc, local, args.repeats)
            ratio = t_local / t_utc
            worst = max(worst, ratio)
            print(f"  {label:16} UTC {t_utc * 1000:7.1f} ms   {args.zone} {t_local * 1000:7.1f} ms   "
                  f"ratio {ratio:4.2f}x  (aim <= 1.2x)")
    finally:
        con.close()
        project.close()
    print(f"worst ratio {worst:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
