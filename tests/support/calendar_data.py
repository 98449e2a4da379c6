"""Seeded tables for the calendar differential suite (tests/test_calendar_differential.py).

Rows crowd the instants where a business calendar is easy to get wrong:

- local midnights (exactly, one second and one microsecond either side) of the calendar zones
  the suite uses — America/Sao_Paulo, Europe/Berlin, America/New_York, Asia/Kolkata (+05:30),
  Asia/Kathmandu (+05:45) and UTC — on month, quarter, fiscal-year and week boundaries;
- the DST changes of Sao Paulo (2018-11-04 and 2019-02-17, both at local midnight), Berlin
  (2018-10-28, 2019-03-31) and New York (2018-11-04, 2019-03-10), and the minutes around them;
- naive wall times *inside* Berlin's DST gap and its repeated hour (SPEC §5.1: a gap's time takes
  the offset before it, a repeated hour is its first occurrence);
- elapsed times that span a DST change (``hours_between`` must give real elapsed time).

Four datasets, each with its kind of time column and a ``channel`` dimension:

========  ===================================================  ====================================
dataset   time column                                          read as
========  ===================================================  ====================================
visits    ``at``, ``left_at``: naive TIMESTAMP                 wall times of Europe/Berlin
members   ``joined_at``, ``left_at``: naive TIMESTAMP (stock)  wall times of America/New_York
payments  ``paid_at``: TIMESTAMPTZ (offset text on SQLite)     instants, whatever the zone
bookings  ``day``: DATE                                        calendar dates, never shifted
========  ===================================================  ====================================

:func:`write_source` writes them for an engine the way its users hold such data: TIMESTAMPTZ
columns on DuckDB and PostgreSQL (the shared writers of ``kpi_engine.testing`` know only naive
TIMESTAMP), text with its offset on SQLite, Parquet (written by DuckDB, so TIMESTAMPTZ is an
instant there too) for Spark.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from support.engines import SPARK_TEST_CONF, Table, column_type, write_sqlite

UTC = dt.timezone.utc
START = dt.datetime(2018, 10, 1, tzinfo=UTC)
END = dt.datetime(2019, 5, 1, tzinfo=UTC)  # rows fall in [START, END)

#: The zones whose local midnights and DST changes the rows crowd.
ZONES = ("America/Sao_Paulo", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "UTC")
VISITS_ZONE = "Europe/Berlin"
MEMBERS_ZONE = "America/New_York"
CHANNELS = ("web", "app", "store", None)

#: Local days whose midnights matter: month starts, DST days, weeks around New Year, a leap-free Feb end.
BOUNDARY_DAYS = [
    *[dt.date(y, m, 1) for y, m in [(2018, 10), (2018, 11), (2018, 12), (2019, 1), (2019, 2), (2019, 3),
                                    (2019, 4)]],
    dt.date(2018, 10, 28), dt.date(2018, 10, 29), dt.date(2018, 11, 4), dt.date(2018, 11, 5),
    dt.date(2019, 2, 16), dt.date(2019, 2, 17), dt.date(2019, 2, 18), dt.date(2019, 3, 10),
    dt.date(2019, 3, 11), dt.date(2019, 3, 31), dt.date(2018, 12, 29), dt.date(2018, 12, 30),
    dt.date(2018, 12, 31), dt.date(2019, 1, 5), dt.date(2019, 1, 6), dt.date(2019, 1, 7), dt.date(2019, 2, 28),
]
#: Naive Berlin wall times in its gap (2019-03-31 02:00-03:00) and repeated hour (2018-10-28 02:00-03:00).
BERLIN_GAP_AND_FOLD = [
    dt.datetime(2019, 3, 31, 2, 0), dt.datetime(2019, 3, 31, 2, 30), dt.datetime(2019, 3, 31, 2, 59, 59),
    dt.datetime(2018, 10, 28, 2, 0), dt.datetime(2018, 10, 28, 2, 30), dt.datetime(2018, 10, 28, 2, 59, 59),
]
#: Naive New York wall times in its gap (2019-03-10 02:00-03:00) and repeated hour (2018-11-04 01:00-02:00).
NEW_YORK_GAP_AND_FOLD = [dt.datetime(2019, 3, 10, 2, 30), dt.datetime(2018, 11, 4, 1, 30)]


def local_midnight(day: dt.date, zone: str) -> dt.datetime:
    """The first instant of ``day`` in ``zone`` (fold=0: after a gap at midnight, its first instant)."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def dst_changes(zone: str) -> list[dt.datetime]:
    """The instants in [START, END) at which ``zone``'s offset changes (found hour by hour, then to the second)."""
    tz = ZoneInfo(zone)
    changes = []
    t = START
    while t < END:
        nxt = t + dt.timedelta(hours=1)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            lo, hi = t, nxt
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            changes.append(hi)
        t = nxt
    return changes


def critical_instants() -> list[dt.datetime]:
    """Local midnights of the boundary days in every zone and DST changes, with their neighbours."""
    near = [dt.timedelta(0), dt.timedelta(seconds=-1), dt.timedelta(seconds=1), dt.timedelta(microseconds=-1)]
    around_change = [dt.timedelta(minutes=m) for m in (-61, -30, -1, 0, 1, 30, 59, 61)]
    out = []
    for zone in ZONES:
        for day in BOUNDARY_DAYS:
            out += [local_midnight(day, zone) + d for d in near]
        for change in dst_changes(zone):
            out += [change + d for d in around_change]
    return sorted({t for t in out if START <= t < END})


def must_have_instants() -> list[dt.datetime]:
    """Instants every timestamp table holds whatever the seed: each zone's midnight (and the second before
    it) of Sao Paulo's skipped midnight, New Year and Sao Paulo's last DST day, and each DST change (and
    the second before it)."""
    out = []
    for zone in ZONES:
        for day in (dt.date(2018, 11, 4), dt.date(2019, 1, 1), dt.date(2019, 2, 17)):
            midnight = local_midnight(day, zone)
            out += [midnight, midnight - dt.timedelta(seconds=1)]
        for change in dst_changes(zone):
            out += [change, change - dt.timedelta(seconds=1)]
    return out


def _instant(rng: random.Random, critical: Sequence[dt.datetime]) -> dt.datetime:
    """Half the time a critical instant, otherwise anywhere in [START, END) (to the second)."""
    if rng.random() < 0.5:
        return rng.choice(critical)
    return START + dt.timedelta(seconds=rng.randrange(int((END - START).total_seconds())))


def _wall(instant: dt.datetime, zone: str) -> dt.datetime:
    """The naive wall time of ``zone`` at ``instant``."""
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def _aware_in_some_zone(rng: random.Random, instant: dt.datetime) -> dt.datetime:
    """The same instant carrying one of several offsets (SQLite keeps the offset in its text)."""
    zone = rng.choice([UTC, ZoneInfo("Asia/Kolkata"), ZoneInfo("America/Sao_Paulo"),
                       dt.timezone(dt.timedelta(hours=-3)), ZoneInfo("Asia/Kathmandu")])
    return instant.astimezone(zone)


def generate(seed: int = 20181104) -> dict[str, Table]:
    """The four tables (columns, rows) of Python values; the same every run."""
    rng = random.Random(seed)
    critical = critical_instants()
    return {
        "visits": _visits(rng, critical),
        "members": _members(rng, critical),
        "payments": _payments(rng, critical),
        "bookings": _bookings(rng),
    }


def _visits(rng: random.Random, critical: Sequence[dt.datetime]) -> Table:
    columns = ("id", "at", "left_at", "amount", "user_id", "channel")
    rows: list[tuple[Any, ...]] = []
    instants = must_have_instants() + [_instant(rng, critical) for _ in range(220)]
    walls = [_wall(t, VISITS_ZONE) for t in instants] + BERLIN_GAP_AND_FOLD
    for i, at in enumerate(walls):
        # stays of up to 30 hours, in real time: some span a DST change
        stay = dt.timedelta(minutes=rng.choice([0, 1, 30, 90, 600, 1440, 1800]) + rng.randrange(60))
        left = _wall(at.replace(tzinfo=ZoneInfo(VISITS_ZONE)).astimezone(UTC) + stay, VISITS_ZONE)
        rows.append((
            i + 1,
            at if i % 50 != 49 else None,
            left if rng.random() > 0.1 else None,
            round(rng.uniform(1, 200), 2) if rng.random() > 0.1 else None,
            rng.randrange(40) if rng.random() > 0.05 else None,
            rng.choice(CHANNELS),
        ))
    return columns, rows


def _members(rng: random.Random, critical: Sequence[dt.datetime]) -> Table:
    columns = ("id", "joined_at", "left_at", "channel")
    rows: list[tuple[Any, ...]] = []
    walls = [_wall(_instant(rng, critical), MEMBERS_ZONE) for _ in range(70)] + NEW_YORK_GAP_AND_FOLD
    for i, joined in enumerate(walls):
        kind = rng.random()
        if kind < 0.35:
            left = None
        elif kind < 0.45:
            left = joined  # never active
        else:
            # ends exactly at a critical instant, or some days later
            left = (_wall(rng.choice(critical), MEMBERS_ZONE) if rng.random() < 0.5
                    else joined + dt.timedelta(hours=rng.randrange(1, 24 * 90)))
        rows.append((i + 1, joined, left, rng.choice(CHANNELS)))
    return columns, rows


def _payments(rng: random.Random, critical: Sequence[dt.datetime]) -> Table:
    columns = ("id", "paid_at", "cents", "channel")
    instants: list[dt.datetime | None] = [*must_have_instants(), *(_instant(rng, critical) for _ in range(120)),
                                          None, None]
    rows = [(i + 1, None if t is None else _aware_in_some_zone(rng, t), rng.randrange(1, 100_000),
             rng.choice(CHANNELS)) for i, t in enumerate(instants)]
    return columns, rows


def _bookings(rng: random.Random) -> Table:
    columns = ("id", "day", "nights", "channel")
    days = [d for d in BOUNDARY_DAYS] + [START.date() + dt.timedelta(days=rng.randrange(210)) for _ in range(60)]
    rows = [(i + 1, day, rng.randrange(0, 8), rng.choice(CHANNELS)) for i, day in enumerate(days)]
    return columns, rows


def reference_rows(tables: dict[str, Table]) -> dict[str, list[dict[str, Any]]]:
    """The tables as the reference evaluator takes them: one dict per row."""
    return {name: [dict(zip(columns, row)) for row in rows] for name, (columns, rows) in tables.items()}


# ---------------------------------------------------------------------------------------------
# Writing the tables for an engine
# ---------------------------------------------------------------------------------------------


def sql_type(values: Sequence[Any], engine: str) -> str:
    """A column's SQL type: TIMESTAMPTZ for aware datetimes, else what the shared writers use."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, dt.datetime) and sample.tzinfo is not None:
        return "TIMESTAMPTZ"
    return column_type(values, engine)


def _create(name: str, table: Table, engine: str, schema: str | None = None) -> str:
    columns, rows = table
    types = [sql_type([row[i] for row in rows], engine) for i in range(len(columns))]
    qualified = f'"{schema}"."{name}"' if schema else f'"{name}"'
    return f'CREATE TABLE {qualified} ({", ".join(f"{chr(34)}{c}{chr(34)} {t}" for c, t in zip(columns, types))})'


def write_duckdb(path: Path, tables: dict[str, Table]) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        for name, table in tables.items():
            con.execute(_create(name, table, "duckdb"))
            columns, rows = table
            con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" for _ in columns)})', [list(r) for r in rows])
    finally:
        con.close()


def write_postgres(dsn: str, tables: dict[str, Table]) -> str:
    """A new schema holding the tables; returns its name."""
    import psycopg

    schema = f"cal_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
        for name, table in tables.items():
            con.execute(_create(name, table, "postgres", schema))
            columns, rows = table
            names = ", ".join(f'"{c}"' for c in columns)
            with con.cursor().copy(f'COPY "{schema}"."{name}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
    return schema


def write_parquet(folder: Path, tables: dict[str, Table]) -> dict[str, str]:
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "tables.duckdb"
    write_duckdb(database, tables)
    con = duckdb.connect(str(database))
    paths = {}
    try:
        for name in tables:
            path = folder / f"{name}.parquet"
            con.execute(f"COPY \"{name}\" TO '{path}' (FORMAT parquet)")
            paths[name] = str(path)
    finally:
        con.close()
    return paths


def write_source(engine: str, folder: Path, tables: dict[str, Table], *, postgres_dsn: str | None = None,
                 cleanups: list[Callable[[], None]] | None = None) -> str:
    """Write the tables once for ``engine`` under ``folder``; return the body of a kpi.yml ``default:``
    source reading them (absolute paths, so several projects can share one copy)."""
    if engine == "duckdb":
        write_duckdb(folder / "data.duckdb", tables)
        return f"    connector: duckdb\n    database: '{folder / 'data.duckdb'}'\n"
    if engine == "sqlite":
        write_sqlite(folder / "data.sqlite", tables)  # aware datetimes become text with their offset
        return f"    connector: sqlite\n    database: '{folder / 'data.sqlite'}'\n"
    if engine == "postgres":
        from support.engines import drop_postgres_schema

        if not postgres_dsn:
            raise ValueError("engine 'postgres' needs postgres_dsn=")
        schema = write_postgres(postgres_dsn, tables)
        if cleanups is not None:
            cleanups.append(lambda: drop_postgres_schema(postgres_dsn, schema))
        return f"    connector: postgres\n    dsn: '{postgres_dsn}'\n    schema: {schema}\n"
    if engine == "spark":
        paths = write_parquet(folder / "parquet", tables)
        conf = "".join(f"      {key}: '{value}'\n" for key, value in SPARK_TEST_CONF.items())
        views = "".join(f"      {name}: '{path}'\n" for name, path in paths.items())
        return f"    connector: spark\n    master: 'local[2]'\n    conf:\n{conf}    views:\n{views}"
    raise ValueError(f"unknown engine {engine!r}")
