"""What a user asks for: KPIs, a grain, dimensions, a filter and a date range (SPEC §5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import QueryError, unknown
from ..timezones import check_zone
from .periods import GRAINS

__all__ = ["Query", "parse_date"]


def parse_date(value: str | dt.date | None, option: str) -> dt.date | None:
    """A date given as YYYY-MM-DD (or a date object); the error names the option."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise QueryError(f"{option} '{value}' is not a date; write it as YYYY-MM-DD", code="bad-date") from None


@dataclass(frozen=True, slots=True)
class Query:
    kpis: tuple[str, ...]
    grain: str = "month"
    by: tuple[str, ...] = ()
    where: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    #: row filters over dimensions forced onto every dataset the query reads (a token's access), ANDed
    #: with ``where`` in the SQL; a dataset without one of their dimensions makes the query forbidden
    filters: tuple[str, ...] = ()
    #: the IANA zone periods are cut in for this query (None: the project calendar's)
    timezone: str | None = None
    #: (dataset, time column, first, after last): the range of naive UTC times a column's rows hold, measured
    #: in the snapshot the query then reads (``CompiledQuery.extent_sql``); set by ``Project``, not by users.
    #: The zone's offsets in that range then cut the periods, with no conversion per row
    extents: tuple[tuple[str, str, dt.datetime, dt.datetime], ...] = ()

    @classmethod
    def create(
        cls,
        kpis: Iterable[str] | str,
        *,
        grain: str = "month",
        by: Iterable[str] | str | None = (),
        where: str | None = None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        filters: Iterable[str] = (),
        timezone: str | None = None,
    ) -> Query:
        """A checked query; the messages name the options as the CLI spells them."""
        names = (kpis,) if isinstance(kpis, str) else tuple(kpis)
        if not names:
            raise QueryError("no KPI to compute: name at least one (or use --all)", code="no-kpi")
        grain = (grain or "month").lower()
        if grain not in GRAINS:
            raise QueryError(unknown("grain", grain, GRAINS) + f" (one of {', '.join(GRAINS)})", code="bad-grain")
        dims = (by,) if isinstance(by, str) else tuple(by or ())
        if len(set(dims)) != len(dims):
            raise QueryError("a dimension is named twice in --by", code="bad-by")
        first, last = parse_date(start, "--from"), parse_date(end, "--to")
        if first and last and first > last:
            raise QueryError(f"--from {first} is after --to {last}", code="bad-range")
        where = where.strip() if where and where.strip() else None
        timezone = timezone.strip() if timezone and timezone.strip() else None
        if timezone is not None and (problem := check_zone(timezone)) is not None:
            raise QueryError(f"--timezone: {problem}", code="bad-timezone")
        return cls(tuple(dict.fromkeys(names)), grain, dims, where, first, last, tuple(filters), timezone)
