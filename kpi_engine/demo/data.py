"""The help-desk demo dataset behind `kpi demo`, generated entirely inside DuckDB.

Why the data looks the way it does
----------------------------------
The demo has to make every KPI of the bundled library say something, so the tables
carry the patterns a support or growth team would recognise in its own data:

* Volume grows (about +30 % from the first month to the last), peaks around
  November-January, dips mid-year, is busiest on Monday/Tuesday, falls to ~40 % at
  weekends and follows office hours (peaks near 10:00 and 15:00, a lunch dip, a few
  tickets at night). Period-over-period and `--by` breakdowns therefore show
  something real instead of noise.
* Service figures sit near the library's targets, some above and some below, and
  several of them improve over the two years (handle time, CSAT, NPS, first contact
  resolution), so targets, warnings and trends all have something to show.
* The invariants a KPI author relies on hold exactly: a ticket's customer had signed
  up before it, orders come from customers active at the time, `resolved_at` is
  null exactly for open/pending tickets, surveys follow a resolution, abandoned calls
  have no handle time, nothing lies after 2025-12-31 23:59:59.

How it is generated
-------------------
Everything is SQL run by DuckDB, with no Python loop over rows, so ten million tickets
take seconds. Randomness comes from hashing the row's key with a per-column salt, never
`random()`: a hash of the row's own key gives the same number whatever the thread
count or the order in which DuckDB processes rows, so the same `rows` always gives the
same tables (with the same DuckDB version: its hash function is not a stable format).
Tickets, calls and orders are each one projection over a parallel scan of ids, with
lookup tables read as lists rather than joined (see `_list_of`): rows are written in
id order without a sort.

Event times are not drawn independently: the number of events per day is the integer
share of the total given by the day's weight (trend x season x weekday x a little
noise), using cumulative rounding so the counts add up *exactly* to the total; the
events of a day are then spread over its hours by stratified inverse-CDF sampling of
the hour-of-day profile. That makes ids increase with time (ticket 1 is the first
ticket) and keeps every pattern visible even at a few thousand rows.

Row counts for `generate(con, rows)`, with n = max(500, rows // 20):

* tickets: exactly `rows`; calls and orders: exactly `rows // 2`;
* customers: exactly n (n // 5 of them signed up in 2022-2023);
* marketing_spend: exactly 731 days x 4 channels = 2924;
* surveys: about 0.3 x `rows` (within 0.27-0.33 x `rows` from a few thousand rows up:
  one survey per sampled resolved ticket, dropped when its answer would fall after
  the last day);
* kpi_demo_info: 4.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

FIRST_DAY = datetime.date(2024, 1, 1)
LAST_DAY = datetime.date(2025, 12, 31)
DEFAULT_ROWS = 100_000

#: Customers who signed up before FIRST_DAY start here, so that January 2024
#: already has an installed base (and churn, retention and ARPU are meaningful).
HISTORY_DAY = datetime.date(2022, 1, 1)

TABLES = ("customers", "tickets", "calls", "surveys", "marketing_spend", "orders", "kpi_demo_info")

_DAYS = (LAST_DAY - FIRST_DAY).days + 1  # 731
_END = "TIMESTAMP '2025-12-31 23:59:59'"
_DAY_SECONDS = 86_400
_MONTH_SECONDS = 2_629_800  # 30.4375 days

# Support volume per month of the year: the holiday season and January back-to-work
# are busy, the (northern) summer is quiet.
_SUPPORT_SEASON = (1.15, 1.03, 1.00, 0.96, 0.92, 0.86, 0.84, 0.88, 0.95, 1.00, 1.12, 1.16)
# Monday to Sunday: the Monday backlog, then a slow decline, weekends ~40 %.
_SUPPORT_WEEKDAY = (1.20, 1.12, 1.04, 1.00, 0.94, 0.46, 0.40)
# Hour 0..23: office hours with a morning peak at 10h, a lunch dip and a 15h peak.
_OFFICE_HOURS = (0.12, 0.08, 0.06, 0.05, 0.06, 0.12, 0.30, 0.70, 1.50, 2.30, 2.70, 2.40,
                 1.70, 1.90, 2.40, 2.60, 2.20, 1.60, 1.00, 0.75, 0.55, 0.40, 0.28, 0.18)
# Sign-ups happen more in the evening than support contacts do.
_SIGNUP_HOURS = (0.25, 0.15, 0.10, 0.08, 0.08, 0.12, 0.25, 0.50, 0.90, 1.20, 1.30, 1.30,
                 1.20, 1.25, 1.30, 1.30, 1.20, 1.10, 1.10, 1.20, 1.25, 1.10, 0.80, 0.45)
_SIGNUP_SEASON = (1.20, 1.05, 1.05, 1.00, 0.95, 0.90, 0.88, 0.92, 1.00, 1.02, 1.05, 0.95)
_SIGNUP_WEEKDAY = (1.10, 1.08, 1.05, 1.02, 0.98, 0.72, 0.70)
# Orders peak with Black Friday and Christmas.
_ORDER_SEASON = (0.92, 0.90, 0.97, 0.97, 1.00, 0.97, 0.96, 1.00, 1.00, 1.03, 1.22, 1.28)
_ORDER_WEEKDAY = (1.06, 1.06, 1.05, 1.04, 1.00, 0.90, 0.86)
_SPEND_SEASON = (1.10, 1.00, 1.00, 0.95, 0.92, 0.88, 0.88, 0.92, 1.00, 1.05, 1.25, 1.10)

# (label, probability) tables; probabilities of each table sum to 1.
_PLANS = (("basic", 0.55), ("pro", 0.33), ("enterprise", 0.12))
_ACQUISITION = (("organic", 0.35), ("paid_search", 0.25), ("social", 0.15), ("referral", 0.15),
                ("partner", 0.10))
# Roughly Brazil's population by macro-region.
_REGIONS = (("southeast", 0.42), ("northeast", 0.27), ("south", 0.14), ("north", 0.09),
            ("midwest", 0.08))
_TICKET_CHANNELS = (("email", 0.40), ("chat", 0.25), ("phone", 0.20), ("web", 0.15))
_CATEGORIES = (("technical", 0.35), ("billing", 0.25), ("account", 0.15), ("delivery", 0.15),
               ("other", 0.10))
_PRIORITIES = (("low", 0.20), ("normal", 0.55), ("high", 0.18), ("urgent", 0.07))
_QUEUES = (("support", 0.55), ("sales", 0.25), ("billing", 0.20))
_SURVEY_KINDS = (("csat", 0.50), ("nps", 0.30), ("ces", 0.20))
_ORDER_STATUS = (("paid", 0.92), ("refunded", 0.05), ("cancelled", 0.03))
# Marketing channel -> share of the budget. Paid search and partners are dear per
# customer, referrals cheap: CAC by channel differs the way it does in real life.
_SPEND_SHARES = (("paid_search", 0.40), ("social", 0.25), ("referral", 0.15), ("partner", 0.20))
# Blended spend per new customer of 2024-2025 (organic ones included).
_BLENDED_CAC = 140.0

_SURNAMES = ("Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
             "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes",
             "Soares", "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade",
             "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas")
_TRADES = ("Logistics", "Foods", "Tech", "Pharma", "Motors", "Textiles", "Retail", "Energy", "Labs",
           "Construction", "Media", "Travel", "Farms", "Finance", "Health", "Design", "Supply",
           "Solutions", "Software", "Trading")

_TEMP_PREFIX = "_kpi_demo_"


def generate(con: duckdb.DuckDBPyConnection, rows: int = DEFAULT_ROWS) -> dict[str, int]:
    """Create (CREATE OR REPLACE) the demo tables in the open DuckDB connection `con`; return {table: row count}.

    `rows` is the number of tickets; the other tables scale from it (see the module
    docstring for the exact counts). The whole generation runs in one transaction,
    so a failure leaves the previous tables untouched; `con` must therefore not be
    inside a transaction of its own. Helper tables are TEMP tables named
    `_kpi_demo_*`, dropped before the commit.
    """
    _check_rows(rows)
    con.begin()
    try:
        _build(con, rows)
        counts = {table: _count(con, table) for table in TABLES}
        _drop_temporary_tables(con)
        con.commit()
    except BaseException:
        # A failed rollback (DuckDB invalidates the database after an internal error)
        # must not hide the original error.
        with contextlib.suppress(Exception):
            con.rollback()
        raise
    return counts


def customer_count(rows: int) -> int:
    """Customers for `rows` tickets: ~20 tickets per customer over the two years, never under 500."""
    return max(500, rows // 20)


def agent_count(rows: int) -> int:
    """Agents for `rows` tickets: roughly one agent per 2,000 tickets, plus a small core team."""
    return rows // 2000 + 5


def _check_rows(rows: int) -> None:
    # bool is an int, and SQL text is built from this value: be strict.
    if type(rows) is not int or rows <= 0:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def _build(con: duckdb.DuckDBPyConnection, rows: int) -> None:
    """Run the statements in dependency order: tickets, calls and orders pick existing customers."""
    n = customer_count(rows)
    early = n // 5
    history_days = (FIRST_DAY - HISTORY_DAY).days
    con.execute(_ids_sql(max(rows, n)))
    early_signups = _timeline(
        con, "early_signups", early, HISTORY_DAY, FIRST_DAY - datetime.timedelta(days=1),
        lambda d: _day_weight(d, origin=HISTORY_DAY, span_days=history_days, growth=0.5,
                              season=_SIGNUP_SEASON, weekday=_SIGNUP_WEEKDAY, noise=0.3, salt=1),
        _SIGNUP_HOURS, salt=2)
    recent_signups = _timeline(
        con, "recent_signups", n - early, FIRST_DAY, LAST_DAY,
        lambda d: _day_weight(d, origin=FIRST_DAY, span_days=_DAYS, growth=0.6,
                              season=_SIGNUP_SEASON, weekday=_SIGNUP_WEEKDAY, noise=0.3, salt=3),
        _SIGNUP_HOURS, salt=4)
    con.execute(_customers_sql(early_signups, recent_signups, early))
    con.execute(_customer_days_sql())
    tickets = _timeline(con, "tickets", rows, FIRST_DAY, LAST_DAY, _support_weight(100),
                        _OFFICE_HOURS, salt=101)
    con.execute(_tickets_sql(_active_customer(tickets, 102), agent_count(rows)))
    calls = _timeline(con, "calls", rows // 2, FIRST_DAY, LAST_DAY, _support_weight(200),
                      _OFFICE_HOURS, salt=201)
    con.execute(_calls_sql(_with_customer_counts(calls), agent_count(rows)))
    con.execute(_surveys_sql())
    con.execute(_marketing_spend_sql(n))
    orders = _timeline(
        con, "orders", rows // 2, FIRST_DAY, LAST_DAY,
        lambda d: _day_weight(d, origin=FIRST_DAY, span_days=_DAYS - 1, growth=0.8,
                              season=_ORDER_SEASON, weekday=_ORDER_WEEKDAY, noise=0.2, salt=500),
        _OFFICE_HOURS, salt=501)
    con.execute(_orders_sql(_active_customer(orders, 502)))
    con.execute(_info_sql(rows))


def _drop_temporary_tables(con: duckdb.DuckDBPyConnection) -> None:
    names = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?)",
                        [_TEMP_PREFIX]).fetchall()
    for (name,) in names:
        con.execute(f"DROP TABLE temp.main.{name}")


# --- SQL building blocks -----------------------------------------------------------------


def _hash(key: str, salt: int | str) -> str:
    """A 64-bit pseudo-random number for `key`, independent from one salt to another.

    DuckDB combines the hashes of several arguments with XOR, so `hash(key, salt)`
    for two salts differ by a constant XOR: their top bits are almost the same and
    "independent" columns drawn from them come out ~0.9 correlated. Hashing that
    value once more scrambles it (the hash of an integer is a full 64-bit mix).
    """
    return f"hash(hash({key}, {salt}))"


def _u(key: str, salt: int | str) -> str:
    """A uniform number in (0, 1) from the hash of `key` and `salt`.

    The top 53 bits of the 64-bit hash fill a double's mantissa; the half step keeps
    it away from 0 and 1, so logarithms and inverse CDFs never see an endpoint.
    """
    return f"((({_hash(key, salt)} >> 11)::DOUBLE + 0.5) * {2.0 ** -53!r})"


def _normal(key: str, salt: int) -> str:
    """A standard normal number (Box-Muller on two hashed uniforms, salts `salt` and `salt + 1`)."""
    return f"(sqrt(-2 * ln({_u(key, salt)})) * cos(2 * pi() * {_u(key, salt + 1)}))"


def _lognormal(key: str, salt: int, median: str | float, sigma: float) -> str:
    """Durations and amounts are log-normal: most values near `median`, a long right tail."""
    return f"(({median}) * exp({sigma} * {_normal(key, salt)}))"


def _choice(u: str, options: Sequence[tuple[str, float]]) -> str:
    """A CASE that picks a label from a uniform column by cumulative probability."""
    cumulative = 0.0
    branches = []
    for label, probability in options[:-1]:
        cumulative += probability
        branches.append(f"WHEN {u} < {cumulative!r} THEN '{label}'")
    return f"CASE {' '.join(branches)} ELSE '{options[-1][0]}' END"


def _lookup(values: Sequence[float], index: str) -> str:
    """values[index] with a 1-based SQL index (months 1-12, ISO weekdays 1-7, hours + 1)."""
    return f"([{', '.join(repr(float(v)) for v in values)}]::DOUBLE[])[{index}]"


def _labels(values: Sequence[str], index: str) -> str:
    return f"([{', '.join(repr(v) for v in values)}]::VARCHAR[])[({index})::BIGINT]"


def _date(day: datetime.date) -> str:
    return f"DATE '{day.isoformat()}'"


def _progress(day: str) -> str:
    """0 on FIRST_DAY, ~1 on LAST_DAY: drives the slow trends (growth, improvements)."""
    return f"(({day} - {_date(FIRST_DAY)}) / {float(_DAYS)!r})"


def _day_weight(day: str, *, origin: datetime.date, span_days: int, growth: float,
                season: Sequence[float], weekday: Sequence[float], noise: float, salt: int) -> str:
    """A day's relative volume: linear growth x month season x weekday x holiday x noise.

    The noise (+-noise/2) is per day, so consecutive days differ like real ones do
    while the monthly picture stays smooth.
    """
    return (f"((1 + {growth!r} * ({day} - {_date(origin)}) / {float(span_days)!r})"
            f" * {_lookup(season, f'month({day})')}"
            f" * {_lookup(weekday, f'isodow({day})')}"
            f" * (CASE WHEN strftime({day}, '%m-%d') IN ('12-25', '01-01') THEN 0.45 ELSE 1 END)"
            f" * (1 - {noise / 2!r} + {noise!r} * {_u(day, salt)}))")


def _seconds_of_day(p: str, hours: Sequence[float]) -> str:
    """Inverse CDF of the piecewise-uniform hour profile: p in [0, 1) -> second of the day.

    Monotonic in p, so stratified p values give times in id order.
    """
    total = float(sum(hours))
    cumulative = 0.0
    branches = []
    for hour, weight in enumerate(hours):
        low = cumulative / total
        cumulative += weight
        high = cumulative / total
        seconds = f"{hour * 3600} + ({p} - {low!r}) * {3600 * total / weight!r}"
        branches.append((f"WHEN {p} < {high!r} THEN " if hour < len(hours) - 1 else "ELSE ") + seconds)
    return f"least(86399, greatest(0, floor(CASE {' '.join(branches)} END)))::BIGINT"


def _timeline(con: duckdb.DuckDBPyConnection, name: str, n: int, first: datetime.date,
              last: datetime.date, weight: Callable[[str], str], hours: Sequence[float], salt: int) -> str:
    """Prepare `n` events spread over [first, last]; return a query of them (id 1..n, day, ts).

    Day d gets floor(n * W(d) / W) - floor(n * W(d-1) / W) events, where W(d) is the
    cumulative integer weight up to d: the total is exact, there is no rounding
    drift, and integer sums do not depend on summation order. Within a day, event k
    takes the quantile (k + u) / count of the hour profile, so ids follow time.

    Each id finds its day by arithmetic, not by expanding days with a lateral
    `range(count)` (DuckDB runs that from a 731-row source on one thread, and
    everything downstream with it) nor by a join. Ids are cut into buckets of
    2^shift, at most the smallest daily count, so a bucket overlaps at most two
    days; a small table gives each bucket its (at most) two days, and the query
    looks its bucket up by position in a list (see `_list_of`).
    """
    table = f"{_TEMP_PREFIX}{name}_buckets"
    counts = f"{_TEMP_PREFIX}{name}_days"
    days = (f"SELECT generate_series::DATE AS day FROM generate_series({_date(first)}, {_date(last)},"
            " INTERVAL 1 DAY)")
    weights = f"SELECT day, greatest(1, round({weight('day')} * 1000000))::BIGINT AS w FROM ({days})"
    cumulative = (f"SELECT day, w, sum(w) OVER (ORDER BY day) AS cum, sum(w) OVER () AS total"
                  f" FROM ({weights})")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {counts} AS"
                f" SELECT day, ({n}::HUGEINT * (cum - w) // total)::BIGINT AS lo,"
                f" ({n}::HUGEINT * cum // total)::BIGINT AS hi FROM ({cumulative})")
    row = con.execute(f"SELECT floor(log2(greatest(1, min(hi - lo))))::INTEGER FROM {counts}").fetchone()
    assert row is not None
    shift = int(row[0])
    # Ids 0..n-1 fill buckets 0..(n-1) >> shift without gaps: position = bucket + 1.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT bucket, min(day) AS day_a, min(lo) AS lo_a, min(hi) AS hi_a,
               max(day) AS day_b, max(lo) AS lo_b, max(hi) AS hi_b
        FROM (SELECT day, lo, hi, unnest(range(lo >> {shift}, ((hi - 1) >> {shift}) + 1)) AS bucket
              FROM {counts} WHERE hi > lo)
        GROUP BY bucket""")
    u = _u("range + 1", salt)
    located = f"""
        SELECT range + 1 AS id,
               CASE WHEN range < b.hi_a THEN b.day_a ELSE b.day_b END AS day,
               CASE WHEN range < b.hi_a THEN (range - b.lo_a + {u}) / (b.hi_a - b.lo_a)
                    ELSE (range - b.lo_b + {u}) / (b.hi_b - b.lo_b) END AS p
        FROM (SELECT range, {_list_of(table, 'bucket')}[(range >> {shift}) + 1] AS b
              FROM {_TEMP_PREFIX}ids WHERE range < {n})"""
    return f"SELECT id, day, day + to_seconds({_seconds_of_day('p', hours)}) AS ts FROM ({located})"


def _list_of(table: str, order: str, value: str | None = None) -> str:
    """A scalar subquery: the rows (or `value`) of a small table as one list, in `order`.

    Indexing that list replaces a join with a lookup table. It keeps every big
    statement a plain projection over one parallel scan, so rows come out in id
    order without a sort, and it avoids hash joins altogether: DuckDB 2.0's
    "dictionary-surviving" hash join intermittently fails with a fatal INTERNAL
    error ("dict-surviving join: narrowed column ... received a non-dictionary
    chunk") when its build side is itself the output of a join, which is what the
    optimizer chose here at 10M rows. For lists of up to a few thousand entries the
    lookup is as fast as a join; for the 500k-customer lists it is a few times
    slower, about a second per 10M rows.
    """
    return f"(SELECT list({value or 't'} ORDER BY {order}) FROM {table} t)"


def _ids_sql(n: int) -> str:
    """Ids 0..n-1 (column `range`) in a table, which DuckDB can scan on all threads.

    DuckDB's `range()` table function is single-threaded, and so is everything
    that streams from it; one temporary table of the largest count serves every
    timeline, costs a fraction of a second at 10M rows and makes the rest parallel.
    """
    return f"CREATE OR REPLACE TEMP TABLE {_TEMP_PREFIX}ids AS SELECT range FROM range({n})"


def _with_customer_counts(events: str) -> str:
    """Add n_before and loyal_before (see `_customer_days_sql`) to each event."""
    days = _list_of(f"{_TEMP_PREFIX}customer_days", "day")
    return f"""
        SELECT id, day, ts, d.n_before, d.loyal_before
        FROM (SELECT e.*, {days}[(e.day - {_date(FIRST_DAY)}) + 1] AS d FROM ({events}) e)"""


def _plan(customer_id: str) -> str:
    """A customer's plan, a function of its id alone, so that orders can price by plan without a join."""
    return _choice(_u(customer_id, 10), _PLANS)


def _active_customer(events: str, salt: int) -> str:
    """Give each event (id, day, ts, ...) a customer active at its time (column customer_id).

    A uniform draw among the customers who signed up before the event's day is kept
    if that customer had not churned by then; otherwise the event goes to a customer
    who never churns (also signed up before the day). Active, loyal customers thus
    get somewhat more events, as they do in practice.
    """
    # Churn times as INTEGER seconds since HISTORY_DAY (never: the largest INTEGER): a
    # list of 4-byte integers is looked up ~2.5x faster than one of timestamps.
    since = f"TIMESTAMP '{HISTORY_DAY.isoformat()}'"
    churn_seconds = _list_of("customers", "customer_id",
                             f"coalesce(date_diff('second', {since}, churned_at), 2147483647)::INTEGER")
    loyal = "(SELECT list(customer_id ORDER BY customer_id) FROM customers WHERE churned_at IS NULL)"
    return f"""
        SELECT id, day, ts,
               CASE WHEN {churn_seconds}[cand] > date_diff('second', {since}, ts) THEN cand
                    ELSE {loyal}[loyal_cand] END::INTEGER AS customer_id
        FROM (SELECT id, day, ts,
                     least(n_before, 1 + floor({_u('id', salt)} * n_before))::BIGINT AS cand,
                     least(loyal_before, 1 + floor({_u('id', salt + 1)} * loyal_before))::BIGINT AS loyal_cand
              FROM ({_with_customer_counts(events)}))"""


# --- tables --------------------------------------------------------------------------------


def _customers_sql(early_signups: str, recent_signups: str, early: int) -> str:
    """Customers numbered in signup order; a fifth signed up in 2022-2023.

    Churn is exponential in time with a monthly hazard by plan (basic 4 %, pro 2.5 %,
    enterprise 1.5 %, ~3 % blended); a churn date after the last day means the customer
    is still active (NULL). Customer 1 never churns, which guarantees that every day
    has at least one loyal customer to give tickets and orders to.
    """
    monthly_churn = "CASE plan WHEN 'basic' THEN 0.04 WHEN 'pro' THEN 0.025 ELSE 0.015 END"
    return f"""
    CREATE OR REPLACE TABLE customers AS
    WITH signups AS (
        SELECT id, ts FROM ({early_signups})
        UNION ALL
        SELECT id + {early}, ts FROM ({recent_signups})
    ), drawn AS (
        SELECT id, ts,
               {_plan('id')} AS plan,
               {_choice(_u('id', 11), _ACQUISITION)} AS channel,
               {_choice(_u('id', 12), _REGIONS)} AS region,
               {_labels(_SURNAMES, f'1 + {_hash("id", 13)} % {len(_SURNAMES)}')} AS surname,
               {_labels(_SURNAMES, f'1 + {_hash("id", 14)} % {len(_SURNAMES)}')} AS partner,
               {_labels(_TRADES, f'1 + {_hash("id", 15)} % {len(_TRADES)}')} AS trade,
               {_u('id', 16)} AS u_partner,
               {_u('id', 17)} AS u_life
        FROM signups
    ), lived AS (
        SELECT *, ts + to_seconds(greatest(1, least(4e9,
                      floor(-ln(u_life) / ({monthly_churn}) * {_MONTH_SECONDS})))::BIGINT) AS churn_at
        FROM drawn
    )
    SELECT id::INTEGER AS customer_id,
           CASE WHEN u_partner < 0.25 AND partner <> surname THEN surname || ' & ' || partner || ' ' || trade
                ELSE surname || ' ' || trade END AS name,
           plan, channel, region,
           ts AS signup_at,
           CASE WHEN id = 1 OR churn_at > {_END} THEN NULL ELSE churn_at END AS churned_at
    FROM lived
    ORDER BY customer_id
    """


def _customer_days_sql() -> str:
    """Per day of the range: customers (and never-churning ones) who signed up on an earlier day.

    Customer ids follow signup order, so "the k-th customer who signed up before day
    d" is simply customer k: picking a customer is a uniform draw of k, no search.
    """
    return f"""
    CREATE OR REPLACE TEMP TABLE _kpi_demo_customer_days AS
    WITH per_day AS (
        SELECT signup_at::DATE + 1 AS day, count(*) AS n,
               count(*) FILTER (WHERE churned_at IS NULL) AS n_loyal
        FROM customers GROUP BY ALL
    ), days AS (
        SELECT generate_series::DATE AS day
        FROM generate_series({_date(HISTORY_DAY)}, {_date(LAST_DAY)}, INTERVAL 1 DAY)
    ), running AS (
        SELECT days.day,
               sum(coalesce(per_day.n, 0)) OVER (ORDER BY days.day) AS n_before,
               sum(coalesce(per_day.n_loyal, 0)) OVER (ORDER BY days.day) AS loyal_before
        FROM days LEFT JOIN per_day USING (day)
    )
    SELECT day, n_before::BIGINT AS n_before, loyal_before::BIGINT AS loyal_before
    FROM running WHERE day >= {_date(FIRST_DAY)}
    ORDER BY day
    """


def _support_weight(salt: int) -> Callable[[str], str]:
    return lambda d: _day_weight(d, origin=FIRST_DAY, span_days=_DAYS - 1, growth=0.3,
                                 season=_SUPPORT_SEASON, weekday=_SUPPORT_WEEKDAY, noise=0.16,
                                 salt=salt)


def _tickets_sql(events: str, agents: int) -> str:
    """Tickets: time patterns from the timeline, service levels from log-normal durations.

    Resolution is fast on phone and chat, slow on email and web, faster for urgent
    tickets and a little faster over time. A ticket is unresolved (open or pending)
    when its resolution would fall after the last day or when it is stuck in the
    backlog: 13.5 % of old tickets, up to ~38 % of the last days' (a backlog gets
    cleared with time), so recent tickets are the most often open.
    Resolved tickets are closed seven days after resolution (a few are left
    'resolved'). First response: phone within 30 s, chat within minutes, email and
    web within hours; open tickets are sometimes still unanswered.
    """
    complaint_rate = ("CASE category WHEN 'billing' THEN 0.07 WHEN 'delivery' THEN 0.06"
                      " WHEN 'technical' THEN 0.03 WHEN 'account' THEN 0.025 ELSE 0.02 END")
    resolution_median = (
        "(CASE channel WHEN 'phone' THEN 1200 WHEN 'chat' THEN 2700 WHEN 'web' THEN 21600 ELSE 36000 END)"
        " * (CASE priority WHEN 'urgent' THEN 0.35 WHEN 'high' THEN 0.6 WHEN 'normal' THEN 1 ELSE 1.6 END)"
        " * (CASE category WHEN 'technical' THEN 1.5 WHEN 'other' THEN 0.7 ELSE 1 END)"
        " * (1 - 0.25 * progress)")
    response_median = (
        "(CASE channel WHEN 'chat' THEN 50 WHEN 'web' THEN 7200 ELSE 10800 END)"
        " * (CASE priority WHEN 'urgent' THEN 0.5 WHEN 'high' THEN 0.75 ELSE 1 END)")
    handle_base = "CASE channel WHEN 'phone' THEN 480 WHEN 'chat' THEN 400 WHEN 'email' THEN 200 ELSE 170 END"
    return f"""
    CREATE OR REPLACE TABLE tickets AS
    WITH drawn AS (
        SELECT id, customer_id, ts AS created_at, {_progress('day')} AS progress,
               {_u('id', 110)} < 0.02 AS is_spam,
               {_choice(_u('id', 111), _TICKET_CHANNELS)} AS channel,
               {_choice(_u('id', 112), _CATEGORIES)} AS drawn_category,
               {_choice(_u('id', 113), _PRIORITIES)} AS drawn_priority,
               {_u('id', 114)} AS u_complaint,
               {_u('id', 115)} AS u_stuck,
               {_u('id', 116)} AS u_status,
               {_u('id', 117)} AS u_contacts,
               {_u('id', 118)} AS u_extra_contacts,
               {_u('id', 119)} AS u_unanswered,
               {_u('id', 120)} AS u_phone_response,
               {_u('id', 121)} AS u_spam_duration,
               (1 + {_hash('id', 122)} % {agents})::INTEGER AS agent_id
        FROM ({events})
    ), classified AS (
        SELECT * EXCLUDE (drawn_category, drawn_priority),
               CASE WHEN is_spam THEN 'other' ELSE drawn_category END AS category,
               CASE WHEN is_spam THEN 'low' ELSE drawn_priority END AS priority
        FROM drawn
    ), timed AS (
        SELECT *,
               NOT is_spam AND u_complaint < {complaint_rate} AS is_complaint,
               CASE WHEN is_spam THEN 60 + u_spam_duration * 900
                    ELSE greatest(60, least(21 * {_DAY_SECONDS},
                                            {_lognormal('id', 130, resolution_median, 1.1)})) END AS resolve_seconds,
               CASE WHEN channel = 'phone' THEN u_phone_response * 30
                    ELSE {_lognormal('id', 132, response_median, 0.8)} END AS response_seconds,
               {_normal('id', 134)} AS z_handle
        FROM classified
    ), resolved AS (
        SELECT *,
               created_at + to_seconds(floor(resolve_seconds)::BIGINT) AS resolve_at,
               created_at + to_seconds(floor(least(response_seconds, 30 * {_DAY_SECONDS}))::BIGINT) AS respond_at,
               NOT is_spam AND u_stuck < 0.135 + 0.25 * exp(-(1 - progress) * {_DAYS / 30.0!r}) AS stuck,
               CASE WHEN is_spam OR u_contacts < 0.66 + 0.08 * progress - 0.2 * is_complaint::INTEGER THEN 1
                    WHEN u_extra_contacts < 0.50 THEN 2 WHEN u_extra_contacts < 0.78 THEN 3
                    WHEN u_extra_contacts < 0.92 THEN 4 ELSE 5 END AS contacts
        FROM timed
    ), settled AS (
        SELECT *, NOT stuck AND resolve_at <= {_END} AS is_resolved FROM resolved
    )
    SELECT id::BIGINT AS ticket_id,
           customer_id::INTEGER AS customer_id,
           channel, category, priority,
           CASE WHEN is_resolved THEN
                    CASE WHEN resolve_at <= {_END} - INTERVAL 7 DAY AND u_status < 0.92 THEN 'closed'
                         ELSE 'resolved' END
                WHEN stuck THEN CASE WHEN u_status < 0.5 THEN 'pending' ELSE 'open' END
                ELSE CASE WHEN u_status < 0.35 THEN 'pending' ELSE 'open' END END AS status,
           is_complaint, is_spam,
           contacts::INTEGER AS contacts,
           created_at,
           CASE WHEN is_resolved THEN least(respond_at, resolve_at)
                WHEN u_unanswered < 0.2 OR respond_at > {_END} THEN NULL
                ELSE respond_at END AS first_response_at,
           CASE WHEN is_resolved THEN resolve_at END AS resolved_at,
           CASE WHEN is_spam THEN 10 + floor(u_spam_duration * 50)
                ELSE greatest(20, round(({handle_base}) * (1 - 0.2 * progress) * (1 + 0.3 * (contacts - 1))
                                        * exp(0.35 * z_handle))) END::INTEGER AS handle_seconds,
           agent_id
    FROM settled
    """


def _calls_sql(events: str, agents: int) -> str:
    """Calls follow the ticket patterns; waits and abandonment follow the load.

    The expected wait grows with the square of the load of the hour and weekday, so
    peaks queue up. Each caller has an exponential patience (mean 3 minutes, the
    Erlang-A model): the call is abandoned when patience runs out first, and its
    wait_seconds is then the time the caller held on. Callers with no customer
    record (NULL customer_id) are mostly sales prospects.
    """
    peak_hour = max(_OFFICE_HOURS)
    peak_day = max(_SUPPORT_WEEKDAY)
    load = (f"({_lookup([h / peak_hour for h in _OFFICE_HOURS], 'hour(ts) + 1')}"
            f" * {_lookup([w / peak_day for w in _SUPPORT_WEEKDAY], 'isodow(day)')})")
    handle_median = "CASE queue WHEN 'support' THEN 390 WHEN 'sales' THEN 330 ELSE 290 END"
    return f"""
    CREATE OR REPLACE TABLE calls AS
    WITH drawn AS (
        SELECT id, ts, n_before, {_progress('day')} AS progress,
               {_choice(_u('id', 210), _QUEUES)} AS queue,
               {_u('id', 211)} AS u_anonymous,
               {_u('id', 212)} AS u_customer,
               -ln({_u('id', 213)}) * (2 + 22 * pow({load}, 2)) AS queue_wait,
               -ln({_u('id', 214)}) * 180 AS patience,
               (1 + {_hash('id', 215)} % {agents})::INTEGER AS agent_id,
               {_normal('id', 216)} AS z_handle
        FROM ({events})
    ), answered AS (
        SELECT *, patience >= queue_wait AS answered FROM drawn
    )
    SELECT id::BIGINT AS call_id,
           CASE WHEN u_anonymous < (CASE queue WHEN 'sales' THEN 0.3 ELSE 0.035 END) THEN NULL
                ELSE least(n_before, 1 + floor(u_customer * n_before)) END::INTEGER AS customer_id,
           queue,
           ts AS called_at,
           floor(least(queue_wait, patience))::INTEGER AS wait_seconds,
           answered,
           NOT answered AS abandoned,
           CASE WHEN answered THEN greatest(20, round(({handle_median}) * (1 - 0.15 * progress)
                                                     * exp(0.4 * z_handle))) END::INTEGER AS handle_seconds,
           CASE WHEN answered THEN agent_id END AS agent_id
    FROM answered
    """


def _surveys_sql() -> str:
    """One survey for about 35 % of resolved non-spam tickets, answered minutes to days later.

    Scores come from one latent satisfaction per survey: better over time, worse for
    complaints and for tickets that needed several contacts. Thresholds put CSAT near
    85 % satisfied, NPS near +30 (50 % promoters, 20 % detractors) and CES near 5.4.
    """
    satisfaction = ("u_satisfaction + 0.03 + 0.12 * (progress - 0.5) - 0.3 * is_complaint::INTEGER"
                    " - 0.04 * (contacts - 1)")
    return f"""
    CREATE OR REPLACE TABLE surveys AS
    WITH sampled AS (
        SELECT ticket_id, customer_id, channel, contacts, is_complaint,
               {_progress('created_at::DATE')} AS progress,
               resolved_at + to_seconds(floor(greatest(60, least(14 * {_DAY_SECONDS},
                   {_lognormal('ticket_id', 301, 10800, 1.2)})))::BIGINT) AS answered_at,
               {_choice(_u('ticket_id', 303), _SURVEY_KINDS)} AS kind,
               {_u('ticket_id', 304)} AS u_satisfaction,
               {_u('ticket_id', 305)} < 0.05 AS skipped
        FROM tickets
        WHERE resolved_at IS NOT NULL AND NOT is_spam AND {_u('ticket_id', 300)} < 0.355
    ), scored AS (
        SELECT *, {satisfaction} AS s FROM sampled WHERE answered_at <= {_END}
    )
    SELECT row_number() OVER (ORDER BY ticket_id)::BIGINT AS survey_id,
           ticket_id, customer_id, channel, kind,
           CASE WHEN skipped THEN NULL
                WHEN kind = 'csat' THEN CASE WHEN s < 0.04 THEN 1 WHEN s < 0.08 THEN 2 WHEN s < 0.16 THEN 3
                                             WHEN s < 0.45 THEN 4 ELSE 5 END
                WHEN kind = 'nps' THEN CASE WHEN s < 0.20 THEN greatest(0, floor(s / 0.20 * 7))
                                            WHEN s < 0.50 THEN 7 + floor((s - 0.20) / 0.15)
                                            WHEN s < 0.75 THEN 9 ELSE 10 END
                ELSE CASE WHEN s < 0.03 THEN 1 WHEN s < 0.07 THEN 2 WHEN s < 0.13 THEN 3 WHEN s < 0.25 THEN 4
                          WHEN s < 0.48 THEN 5 WHEN s < 0.75 THEN 6 ELSE 7 END
           END::INTEGER AS score,
           answered_at
    FROM scored
    ORDER BY survey_id
    """


def _marketing_spend_sql(customers: int) -> str:
    """Daily spend per paid channel, sized so the blended CAC is near 140.

    The budget is new customers of 2024-2025 x the blended CAC, split by channel share
    and shaped like sign-ups (growth, season, lighter weekends) with daily noise, so
    CAC per channel lands roughly between 150 and 300 (organic customers cost nothing).
    """
    budget = (customers - customers // 5) * _BLENDED_CAC
    channels = ", ".join(f"('{name}', {share!r}, {salt})"
                         for salt, (name, share) in enumerate(_SPEND_SHARES, start=400))
    weight = _day_weight("day", origin=FIRST_DAY, span_days=_DAYS, growth=0.5, season=_SPEND_SEASON,
                         weekday=(1.05, 1.05, 1.05, 1.05, 1.0, 0.9, 0.9), noise=0.0, salt=0)
    return f"""
    CREATE OR REPLACE TABLE marketing_spend AS
    WITH days AS (
        SELECT day, w / sum(w) OVER () AS share_of_budget
        FROM (SELECT generate_series::DATE AS day, {weight} AS w
              FROM generate_series({_date(FIRST_DAY)}, {_date(LAST_DAY)}, INTERVAL 1 DAY))
    )
    SELECT days.day AS spend_date, ch.channel,
           round({budget!r} * ch.share * days.share_of_budget
                 * (0.75 + 0.5 * {_u('days.day', 'ch.salt')}), 2)::DECIMAL(12, 2) AS amount
    FROM days CROSS JOIN (VALUES {channels}) ch(channel, share, salt)
    ORDER BY spend_date, ch.channel
    """


def _orders_sql(events: str) -> str:
    """Orders by active customers, growing ~80 % over two years, priced by plan.

    Amounts are log-normal around 45 (basic), 140 (pro) and 360 (enterprise), kept in
    20-500; cost is 40-70 % of the amount, so gross margin averages ~45 %.
    """
    amount_median = "CASE plan WHEN 'basic' THEN 45 WHEN 'pro' THEN 140 ELSE 360 END"
    return f"""
    CREATE OR REPLACE TABLE orders AS
    WITH planned AS (
        SELECT id, customer_id, ts, {_plan('customer_id')} AS plan FROM ({events})
    ), priced AS (
        SELECT id, customer_id, ts,
               {_choice(_u('id', 510), _ORDER_STATUS)} AS status,
               round(greatest(20, least(500, {_lognormal('id', 511, amount_median, 0.35)})), 2) AS amount,
               0.40 + 0.30 * {_u('id', 513)} AS cost_share
        FROM planned
    )
    SELECT id::BIGINT AS order_id,
           customer_id::INTEGER AS customer_id,
           ts AS ordered_at,
           status,
           amount::DECIMAL(12, 2) AS amount,
           round(amount * cost_share, 2)::DECIMAL(12, 2) AS cost
    FROM priced
    """


def _info_sql(rows: int) -> str:
    """Marks the database as a `kpi demo` one, which the CLI may overwrite."""
    values = (("generator", "kpi_engine demo"), ("rows", str(rows)),
              ("first_day", FIRST_DAY.isoformat()), ("last_day", LAST_DAY.isoformat()))
    return f"""
    CREATE OR REPLACE TABLE kpi_demo_info AS
    SELECT key::VARCHAR AS key, value::VARCHAR AS value
    FROM (VALUES {', '.join(f"('{k}', '{v}')" for k, v in values)}) t(key, value)
    """
