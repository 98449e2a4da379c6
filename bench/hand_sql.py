"""Hand-written DuckDB SQL for every KPI of the bundled library (definitions/*.yml).

The benchmark times, for each KPI, the SQL kpi_engine generates against the SQL an
expert analyst would write by hand for the same numbers, on the same DuckDB file
(the tables of `kpi demo`). The queries here are that baseline: idiomatic DuckDB,
written the way one would for a monthly 2025 report, not a copy of the engine's SQL:

* `date_trunc('month', ts)` buckets and a range predicate on the time column
  (`ts >= '2025-01-01' AND ts < '2026-01-01'`) so DuckDB can skip row groups;
* one scan and one GROUP BY per table, `count(*) FILTER (WHERE ...)` for
  conditional counts;
* a 12-month series LEFT JOINed so that empty months appear (counts and sums 0,
  ratios null);
* true division: `::DOUBLE / NULLIF(divisor, 0)`;
* stocks (customers active just before an instant) from signup/churn events: +1 at
  signup_at, -1 at churned_at, each event counted from the first month start after
  it, the whole history before 2025 folded into January's opening stock, and a
  running SUM over the 13 month starts 2025-01-01 .. 2026-01-01. A customer is in the
  stock of instant t when signup_at < t and (churned_at is null or churned_at >= t), so
  an event exactly at midnight on the 1st counts from the next month start, and
  customers with churned_at <= signup_at are never active.

Each query returns `period` (a month start), the KPI's `by` dimensions, then the
value, for every month of 2025, ordered like the engine's result:
`p.query([name], grain='month', start='2025-01-01', end='2025-12-31', by=list(q.by))`.

Run `python bench/hand_sql.py [project_dir [runs]]` (default /tmp/handsql, made by
`kpi demo --rows N` run in that directory; 7 runs) to check every query against the
engine's `Project.query` and print the median time of the hand SQL and of the SQL
`Project.compile` gives, both run on the same read-only DuckDB connection.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HandQuery:
    sql: str                  # DuckDB SQL: period, by dims..., value for every month of 2025, ordered
    by: tuple[str, ...] = ()  # the engine query's --by dimensions for this KPI


# --------------------------------------------------------------------------- fragments
# The report's months, as TIMESTAMPs (what date_trunc returns), 2025-01-01 .. 2025-12-01.
_MONTHS = """months AS (
  SELECT month
  FROM generate_series(TIMESTAMP '2025-01-01', TIMESTAMP '2025-12-01', INTERVAL 1 MONTH) AS g(month)
)"""

# Customers active just before every month start 2025-01-01 .. 2026-01-01 (the start of
# a month is also the end of the previous one). An event at ts counts from the first month
# start > ts; everything before 2025 lands in the January bucket (opening stock).
_STOCK = """events AS (
  SELECT signup_at AS ts, 1 AS delta
  FROM customers
  WHERE signup_at < TIMESTAMP '2026-01-01'
    AND (churned_at IS NULL OR churned_at > signup_at)
  UNION ALL
  SELECT churned_at, -1
  FROM customers
  WHERE churned_at < TIMESTAMP '2026-01-01'
    AND churned_at > signup_at
),
steps AS (
  SELECT greatest(date_trunc('month', ts) + INTERVAL 1 MONTH, TIMESTAMP '2025-01-01') AS month,
         sum(delta) AS delta
  FROM events
  GROUP BY 1
),
stock AS (
  SELECT g.month,
         sum(coalesce(s.delta, 0)) OVER (ORDER BY g.month) AS active_at_start
  FROM generate_series(TIMESTAMP '2025-01-01', TIMESTAMP '2026-01-01', INTERVAL 1 MONTH) AS g(month)
  LEFT JOIN steps AS s USING (month)
),
active AS (
  -- per month of 2025: customers active at its first instant and at the first instant after it
  SELECT month, active_at_start, lead(active_at_start) OVER (ORDER BY month) AS active_at_end
  FROM stock
  QUALIFY month < TIMESTAMP '2026-01-01'
)"""

_IN_2025 = "{col} >= TIMESTAMP '2025-01-01' AND {col} < TIMESTAMP '2026-01-01'"
_TICKETS_2025 = _IN_2025.format(col="created_at")
_CALLS_2025 = _IN_2025.format(col="called_at")
_SURVEYS_2025 = _IN_2025.format(col="answered_at")
_ORDERS_2025 = _IN_2025.format(col="ordered_at")


def _monthly(table_where: str, table: str, time: str, aggregates: str, value: str, name: str) -> str:
    """One GROUP BY over one table, LEFT JOINed to the month series."""
    return f"""WITH {_MONTHS},
agg AS (
  SELECT date_trunc('month', {time}) AS month,
         {aggregates}
  FROM {table}
  WHERE {table_where}
  GROUP BY 1
)
SELECT m.month::DATE AS period, {value} AS {name}
FROM months AS m
LEFT JOIN agg AS a USING (month)
ORDER BY period"""


# --------------------------------------------------------------------------- support
_SUPPORT: dict[str, HandQuery] = {
    "ticket_volume": HandQuery(_monthly(
        f"{_TICKETS_2025} AND NOT is_spam", "tickets", "created_at",
        "count(*) AS tickets",
        "coalesce(a.tickets, 0)", "ticket_volume")),

    "backlog_change": HandQuery(f"""WITH {_MONTHS},
created AS (
  SELECT date_trunc('month', created_at) AS month, count(*) AS n
  FROM tickets
  WHERE {_TICKETS_2025} AND NOT is_spam
  GROUP BY 1
),
resolved AS (
  SELECT date_trunc('month', resolved_at) AS month, count(*) AS n
  FROM tickets
  WHERE {_IN_2025.format(col="resolved_at")} AND NOT is_spam
  GROUP BY 1
)
SELECT m.month::DATE AS period, coalesce(c.n, 0) - coalesce(r.n, 0) AS backlog_change
FROM months AS m
LEFT JOIN created AS c USING (month)
LEFT JOIN resolved AS r USING (month)
ORDER BY period"""),

    "average_handle_time": HandQuery(_monthly(
        _CALLS_2025, "calls", "called_at",
        "avg(handle_seconds) FILTER (WHERE answered) AS aht",
        "a.aht", "average_handle_time")),

    "average_wait_time": HandQuery(_monthly(
        _CALLS_2025, "calls", "called_at",
        "avg(wait_seconds) FILTER (WHERE answered) AS asa",
        "a.asa", "average_wait_time")),

    "first_response_time": HandQuery(_monthly(
        f"{_TICKETS_2025} AND NOT is_spam", "tickets", "created_at",
        "avg(epoch(first_response_at - created_at)) AS frt",
        "a.frt", "first_response_time")),

    "average_resolution_time": HandQuery(_monthly(
        f"{_TICKETS_2025} AND NOT is_spam", "tickets", "created_at",
        "avg(epoch(resolved_at - created_at)) FILTER (WHERE resolved_at IS NOT NULL) AS art",
        "a.art", "average_resolution_time")),

    "first_contact_resolution": HandQuery(_monthly(
        f"{_TICKETS_2025} AND NOT is_spam", "tickets", "created_at",
        "count(*) FILTER (WHERE status IN ('resolved', 'closed') AND contacts = 1) AS first_contact,\n"
        "         count(*) FILTER (WHERE status IN ('resolved', 'closed')) AS solved",
        "a.first_contact::DOUBLE / NULLIF(a.solved, 0)", "first_contact_resolution")),

    "abandonment_rate": HandQuery(_monthly(
        _CALLS_2025, "calls", "called_at",
        "count(*) FILTER (WHERE abandoned) AS abandoned, count(*) AS offered",
        "a.abandoned::DOUBLE / NULLIF(a.offered, 0)", "abandonment_rate")),

    "service_level": HandQuery(_monthly(
        _CALLS_2025, "calls", "called_at",
        "count(*) FILTER (WHERE answered AND wait_seconds <= 20) AS in_time, count(*) AS offered",
        "a.in_time::DOUBLE / NULLIF(a.offered, 0)", "service_level")),

    "complaints": HandQuery(_monthly(
        f"{_TICKETS_2025} AND NOT is_spam", "tickets", "created_at",
        "count(*) FILTER (WHERE is_complaint) AS complaints",
        "coalesce(a.complaints, 0)", "complaints")),

    "complaint_rate": HandQuery(_monthly(
        f"{_TICKETS_2025} AND NOT is_spam", "tickets", "created_at",
        "count(*) FILTER (WHERE is_complaint) AS complaints, count(*) AS tickets",
        "a.complaints::DOUBLE / NULLIF(a.tickets, 0)", "complaint_rate")),

    "channel_share": HandQuery(f"""WITH {_MONTHS},
counts AS (
  SELECT date_trunc('month', created_at) AS month, channel, count(*) AS n
  FROM tickets
  WHERE {_TICKETS_2025} AND NOT is_spam
  GROUP BY ALL
),
channels AS (SELECT DISTINCT channel FROM counts)
SELECT m.month::DATE AS period, ch.channel,
       coalesce(c.n, 0)::DOUBLE / NULLIF(sum(c.n) OVER (PARTITION BY m.month), 0) AS channel_share
FROM months AS m
CROSS JOIN channels AS ch
LEFT JOIN counts AS c ON c.month = m.month AND c.channel IS NOT DISTINCT FROM ch.channel
ORDER BY period, ch.channel NULLS LAST""", by=("channel",)),

    "csat": HandQuery(_monthly(
        f"{_SURVEYS_2025} AND kind = 'csat'", "surveys", "answered_at",
        "count(*) FILTER (WHERE score >= 4) AS satisfied, count(score) AS answers",
        "a.satisfied::DOUBLE / NULLIF(a.answers, 0)", "csat")),

    "nps": HandQuery(_monthly(
        f"{_SURVEYS_2025} AND kind = 'nps'", "surveys", "answered_at",
        "count(*) FILTER (WHERE score >= 9) AS promoters,\n"
        "         count(*) FILTER (WHERE score <= 6) AS detractors,\n"
        "         count(score) AS answers",
        "(a.promoters - a.detractors)::DOUBLE / NULLIF(a.answers, 0) * 100", "nps")),

    "ces": HandQuery(_monthly(
        f"{_SURVEYS_2025} AND kind = 'ces'", "surveys", "answered_at",
        "avg(score) AS ces",
        "a.ces", "ces")),
}


# --------------------------------------------------------------------------- customers
_NEW = f"""new AS (
  SELECT date_trunc('month', signup_at) AS month, count(*) AS n
  FROM customers
  WHERE {_IN_2025.format(col="signup_at")}
  GROUP BY 1
)"""

_CHURNED = f"""churned AS (
  SELECT date_trunc('month', churned_at) AS month, count(*) AS n
  FROM customers
  WHERE {_IN_2025.format(col="churned_at")}
  GROUP BY 1
)"""

_SPEND = """spend AS (
  SELECT date_trunc('month', spend_date) AS month, sum(amount) AS amount
  FROM marketing_spend
  WHERE spend_date >= DATE '2025-01-01' AND spend_date < DATE '2026-01-01'
  GROUP BY 1
)"""

_PAID = f"""paid AS (
  SELECT date_trunc('month', ordered_at) AS month, sum(amount) AS revenue, sum(cost) AS cost
  FROM orders
  WHERE {_ORDERS_2025} AND status = 'paid'
  GROUP BY 1
)"""

_CUSTOMERS: dict[str, HandQuery] = {
    "new_customers": HandQuery(f"""WITH {_MONTHS}, {_NEW}
SELECT m.month::DATE AS period, coalesce(n.n, 0) AS new_customers
FROM months AS m
LEFT JOIN new AS n USING (month)
ORDER BY period"""),

    "active_customers": HandQuery(f"""WITH {_STOCK}
SELECT month::DATE AS period, active_at_end AS active_customers
FROM active
ORDER BY period"""),

    "churned_customers": HandQuery(f"""WITH {_MONTHS}, {_CHURNED}
SELECT m.month::DATE AS period, coalesce(c.n, 0) AS churned_customers
FROM months AS m
LEFT JOIN churned AS c USING (month)
ORDER BY period"""),

    "churn_rate": HandQuery(f"""WITH {_STOCK}, {_CHURNED}
SELECT s.month::DATE AS period,
       coalesce(c.n, 0)::DOUBLE / NULLIF(s.active_at_start, 0) AS churn_rate
FROM active AS s
LEFT JOIN churned AS c USING (month)
ORDER BY period"""),

    "retention_rate": HandQuery(f"""WITH {_STOCK}, {_NEW}
SELECT s.month::DATE AS period,
       (s.active_at_end - coalesce(n.n, 0))::DOUBLE / NULLIF(s.active_at_start, 0) AS retention_rate
FROM active AS s
LEFT JOIN new AS n USING (month)
ORDER BY period"""),

    "acquisition_spend": HandQuery(f"""WITH {_MONTHS}, {_SPEND}
SELECT m.month::DATE AS period, coalesce(s.amount, 0) AS acquisition_spend
FROM months AS m
LEFT JOIN spend AS s USING (month)
ORDER BY period"""),

    "cac": HandQuery(f"""WITH {_MONTHS}, {_SPEND}, {_NEW}
SELECT m.month::DATE AS period,
       coalesce(s.amount, 0)::DOUBLE / NULLIF(n.n, 0) AS cac
FROM months AS m
LEFT JOIN spend AS s USING (month)
LEFT JOIN new AS n USING (month)
ORDER BY period"""),

    "revenue": HandQuery(_monthly(
        f"{_ORDERS_2025} AND status = 'paid'", "orders", "ordered_at",
        "sum(amount) AS revenue",
        "coalesce(a.revenue, 0)", "revenue")),

    "arpu": HandQuery(f"""WITH {_STOCK}, {_PAID}
SELECT s.month::DATE AS period,
       coalesce(p.revenue, 0)::DOUBLE / NULLIF(s.active_at_end, 0) AS arpu
FROM active AS s
LEFT JOIN paid AS p USING (month)
ORDER BY period"""),

    "gross_margin": HandQuery(_monthly(
        f"{_ORDERS_2025} AND status = 'paid'", "orders", "ordered_at",
        "sum(amount) AS revenue, sum(cost) AS cost",
        "(a.revenue - a.cost)::DOUBLE / NULLIF(a.revenue, 0)", "gross_margin")),

    # arpu * gross_margin / churn_rate, each of them null when its divisor is 0
    "ltv": HandQuery(f"""WITH {_STOCK}, {_PAID}, {_CHURNED}
SELECT s.month::DATE AS period,
       coalesce(p.revenue, 0)::DOUBLE / NULLIF(s.active_at_end, 0)
         * ((p.revenue - p.cost)::DOUBLE / NULLIF(p.revenue, 0))
         / NULLIF(coalesce(c.n, 0)::DOUBLE / NULLIF(s.active_at_start, 0), 0) AS ltv
FROM active AS s
LEFT JOIN paid AS p USING (month)
LEFT JOIN churned AS c USING (month)
ORDER BY period"""),

    # growth(revenue): January needs December 2024, so the series starts there.
    "monthly_sales_growth": HandQuery("""WITH paid AS (
  SELECT date_trunc('month', ordered_at) AS month, sum(amount) AS revenue
  FROM orders
  WHERE ordered_at >= TIMESTAMP '2024-12-01' AND ordered_at < TIMESTAMP '2026-01-01'
    AND status = 'paid'
  GROUP BY 1
),
monthly AS (
  SELECT g.month, coalesce(p.revenue, 0) AS revenue,
         lag(coalesce(p.revenue, 0)) OVER (ORDER BY g.month) AS previous
  FROM generate_series(TIMESTAMP '2024-12-01', TIMESTAMP '2025-12-01', INTERVAL 1 MONTH) AS g(month)
  LEFT JOIN paid AS p USING (month)
)
SELECT month::DATE AS period,
       (revenue - previous)::DOUBLE / NULLIF(previous, 0) AS monthly_sales_growth
FROM monthly
WHERE month >= TIMESTAMP '2025-01-01'
ORDER BY period"""),

    "average_order_value": HandQuery(_monthly(
        f"{_ORDERS_2025} AND status = 'paid'", "orders", "ordered_at",
        "avg(amount) AS aov",
        "a.aov", "average_order_value")),
}

QUERIES: dict[str, HandQuery] = {**_SUPPORT, **_CUSTOMERS}

#: KPIs whose values are counts (ints in the engine's result).
_COUNTS = frozenset({"ticket_volume", "backlog_change", "complaints", "new_customers",
                     "active_customers", "churned_customers"})


def _normalise(value: Any, count: bool) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if count else float(value)
    if count and isinstance(value, float):
        return int(value)
    return value


def rows(con: Any, name: str) -> list[tuple]:
    """QUERIES[name] run on the DuckDB connection `con`, normalised like kpi_engine's Result.rows."""
    count = name in _COUNTS
    out = []
    for row in con.execute(QUERIES[name].sql).fetchall():
        *keys, value = row
        out.append(tuple(_normalise(k, False) for k in keys) + (_normalise(value, count),))
    return out


# --------------------------------------------------------------------------- check
def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        if type(a) is not type(b):  # a count must come back as an int, a ratio as a float
            return False
        if isinstance(a, int):
            return a == b
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    return a == b


def _same_rows(mine: list[tuple], theirs: list[tuple]) -> bool:
    return len(mine) == len(theirs) and all(
        len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y)) for x, y in zip(mine, theirs))


def _time_ms(con: Any, queries: list[str], runs: int) -> list[float]:
    """Median wall time (ms, fetch included) of each query; runs interleaved after a warm-up."""
    import statistics
    import time

    times: list[list[float]] = [[] for _ in queries]
    for sql in queries:
        con.execute(sql).fetchall()  # warm-up: buffer pool, plan caches
    for _ in range(runs):
        for sql, bucket in zip(queries, times):
            t0 = time.perf_counter()
            con.execute(sql).fetchall()
            bucket.append((time.perf_counter() - t0) * 1000)
    return [statistics.median(t) for t in times]


def main(argv: list[str]) -> int:
    import statistics

    import kpi_engine

    root = argv[1] if len(argv) > 1 else "/tmp/handsql"
    runs = int(argv[2]) if len(argv) > 2 else 7
    project = kpi_engine.load(root)
    path = project.connectors["default"].path
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    library = set(project.kpis)  # every KPI of the project, hidden ones included
    missing = sorted(library - QUERIES.keys())
    extra = sorted(QUERIES.keys() - library)
    ok = not missing and not extra
    if missing:
        print(f"KPIs without a hand query: {', '.join(missing)}")
    if extra:
        print(f"hand queries for unknown KPIs: {', '.join(extra)}")

    window = dict(grain="month", start="2025-01-01", end="2025-12-31")
    ratios = []
    width = max(map(len, QUERIES))
    print(f"{'kpi':<{width}} | match | hand ms | engine ms | engine/hand")
    for name, q in QUERIES.items():
        result = project.query([name], by=list(q.by), **window)
        mine = rows(con, name)
        cols = [d[0] for d in con.execute(q.sql).description]
        match = cols == list(result.columns) and _same_rows(mine, [tuple(r) for r in result.rows])
        ok &= match
        engine_sql = project.compile([name], by=list(q.by), **window)
        hand_ms, engine_ms = _time_ms(con, [q.sql, engine_sql], runs)
        ratios.append(engine_ms / hand_ms)
        print(f"{name:<{width}} | {'yes' if match else 'NO':<5} | {hand_ms:7.2f} | {engine_ms:9.2f} | "
              f"{engine_ms / hand_ms:6.2f}")
        if not match:
            print(f"  columns  hand {cols} engine {list(result.columns)}")
            for x, y in zip(mine, result.rows):
                flag = "" if len(x) == len(y) and all(map(_same, x, y)) else "   <-- differs"
                print(f"  hand {x}  engine {tuple(y)}{flag}")
            if len(mine) != len(result.rows):
                print(f"  {len(mine)} hand rows, {len(result.rows)} engine rows")
    print(f"engine/hand: median {statistics.median(ratios):.2f}, max {max(ratios):.2f}, "
          f"min {min(ratios):.2f}")
    print("all match" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
