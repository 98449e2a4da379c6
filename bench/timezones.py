"""What a business calendar costs: the library's ticket KPIs cut in UTC against the same KPIs cut in
America/Sao_Paulo, on the same DuckDB file (not a test).

    python bench/timezones.py                  # 1M demo tickets (generated once into bench/data/)
    python bench/timezones.py --rows 100000    # a quick run
    python bench/timezones.py --show-sql       # also print both statements
    python bench/timezones.py --zone America/New_York   # a zone with DST: a few offsets within the data's range

For each query (grain month, with and without --from/--to), ``project.query`` in the calendar UTC and with
--timezone runs alternately in one process, on one project (its DuckDB connection opened read-only, the
session pinned to UTC), so both see the same machine; the times are medians of the repeats and the ratio is
the median of zone / UTC over the pairs of runs. The aim is 1.2x at most: a month is cut by adding the
zone's offset (known at compile time) to each row's UTC time where one offset holds over the range read,
and by comparing the time with the UTC instants the months start at where the clocks change in it (five
comparisons a row for two years, instead of picking an offset then reading the year and month), not by
converting it. Without --from/--to, the zone's
side first measures the first and last time of the rows (a MIN/MAX DuckDB answers from its statistics; once
while the database is open, as no one can write it meanwhile) and cuts with the offsets of that range only
(the offsets of 1970 to next year cost three times the UTC query in a CASE per row); what measuring costs
the first query is also shown.
With --from/--to both must report the same months (a different list would be a bug, not a cost).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kpi_engine  # noqa: E402
from kpi_engine.compiler.query import Query  # noqa: E402
from kpi_engine.result import Result  # noqa: E402
from run import demo_project  # noqa: E402

TICKET_KPIS = ["ticket_volume", "tickets_per_day", "backlog_change", "first_response_time",
               "average_resolution_time", "first_contact_resolution", "complaints", "complaint_rate"]
ZONE = "America/Sao_Paulo"
QUERIES = {
    "month, 2025": {"grain": "month", "start": "2025-01-01", "end": "2025-12-31"},
    "month, all rows": {"grain": "month"},
}


def medians(first: Callable[[], object], second: Callable[[], object],
            repeats: int) -> tuple[float, float, float]:
    """Median times of two calls run alternately (after a warm-up of each), and the median of the ratios of
    each pair (second / first): a pair runs back to back, so a machine slower for a while slows both."""
    first()
    second()
    a, b = [], []
    for _ in range(repeats):
        for call, out in ((first, a), (second, b)):
            started = time.perf_counter()
            call()
            out.append(time.perf_counter() - started)
    return statistics.median(a), statistics.median(b), statistics.median(y / x for x, y in zip(a, b))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="demo tickets (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=15, help="runs of each statement (default 15)")
    parser.add_argument("--show-sql", action="store_true", help="print both statements of each query")
    parser.add_argument("--zone", default=ZONE, help=f"the calendar's zone (default {ZONE})")
    args = parser.parse_args(argv)

    root = demo_project(args.rows, HERE / "data")
    project = kpi_engine.load(root)
    print(f"{len(TICKET_KPIS)} ticket KPIs on {args.rows:,} demo tickets, DuckDB, "
          f"median of {args.repeats} interleaved runs each of project.query")
    worst = 0.0
    try:
        for label, query in QUERIES.items():
            def utc(query: dict = query) -> Result:
                return project.query(TICKET_KPIS, **query)

            def local(query: dict = query) -> Result:
                return project.query(TICKET_KPIS, timezone=args.zone, **query)

            if args.show_sql:
                print(f"-- {label}, UTC\n{utc().sql}\n-- {label}, {args.zone}\n{local().sql}\n")
            if "start" in query and [r[0] for r in utc().rows] != [r[0] for r in local().rows]:
                raise SystemExit(f"{label}: the two calendars report different months")
            t_utc, t_local, ratio = medians(utc, local, args.repeats)
            worst = max(worst, ratio)
            print(f"  {label:16} UTC {t_utc * 1000:7.1f} ms   {args.zone} {t_local * 1000:7.1f} ms   "
                  f"ratio {ratio:4.2f}x  (aim <= 1.2x)")
            compiled = project.compiled(Query.create(TICKET_KPIS, timezone=args.zone, **query))
            if compiled.extent_sql is not None:  # what the first query on an open database adds, once
                connection = project.connection()
                measuring = medians(lambda: connection.execute(compiled.extent_sql), lambda: None, args.repeats)[0]
                print(f"  {'':16} measuring the range of the rows' times first: {measuring * 1000:.1f} ms, "
                      f"once while the database is open")
    finally:
        project.close()
    print(f"worst ratio {worst:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
