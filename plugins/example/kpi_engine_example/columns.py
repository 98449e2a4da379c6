"""From CSV text to typed columns: names a formula can write, values SQLite compares correctly.

A CSV file is text only, but a KPI compares numbers (``contacts = 1``), negates
flags (``not is_spam``) and places rows in months by timestamps. In SQLite the
text '1' is not equal to the number 1, so every column gets the one kind all
of its values fit, tried in this order:

=========  ===========================================  ==========================
kind       values                                       stored as
=========  ===========================================  ==========================
boolean    true / false (any case)                      1 / 0
integer    42, -7 (not 007: leading zeros keep an id)   int
real       3.5, -0.25, 1e3 (3,5 with decimal: ',')      float
date       2025-01-31                                   '2025-01-31'
timestamp  ISO 8601 (T or space, Z or offsets), or      '2025-01-31 13:45:00'
           ``datetime_format``                          (offsets: to ``timezone``)
text       anything else                                str, as written
=========  ===========================================  ==========================

Timestamps are stored as ISO text, the form the SQLite dialect of kpi_engine
reads. Nothing here does I/O, so it is tested without files.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "Parsing", "column_name", "type_column"]

#: The SQLite column type declared for each kind (timestamps are ISO text).
KINDS: dict[str, str] = {"boolean": "INTEGER", "integer": "INTEGER", "real": "REAL", "date": "TEXT",
                         "timestamp": "TEXT", "text": "TEXT"}

_INTEGER = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}.*)?")
_SQLITE_INTEGER_LIMIT = 2**63  # SQLite integers are signed 64-bit


@dataclass(frozen=True)
class Parsing:
    """How the values of one source are read: from its options."""

    decimal: str = "."
    datetime_format: str | None = None
    zone: dt.tzinfo = dt.timezone.utc

    def real_pattern(self) -> re.Pattern[str]:
        point = re.escape(self.decimal)
        return re.compile(rf"[+-]?((0|[1-9][0-9]*)({point}[0-9]*)?|{point}[0-9]+)([eE][+-]?[0-9]+)?")


def column_name(header: str) -> str:
    """A header as a formula can write it: 'First Response (min)' -> 'first_response_min'.

    Accents are dropped ('Satisfação' -> 'satisfacao'); a name that would start
    with a digit gets a leading underscore. Empty means the header had no letter
    or digit; the caller names such a column by its position.
    """
    ascii_text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return f"_{name}" if name[:1].isdigit() else name


def type_column(values: Sequence[str | None], parsing: Parsing) -> tuple[str, list[Any]]:
    """The kind of a column and its converted values (None stays None)."""
    present = [v for v in values if v is not None]
    if not present:
        return "text", list(values)
    for kind, parse in _parsers(parsing):
        try:
            converted = {v: parse(v) for v in set(present)}
        except ValueError:
            continue
        return kind, [None if v is None else converted[v] for v in values]
    return "text", list(values)


def _parsers(parsing: Parsing) -> list[tuple[str, Callable[[str], Any]]]:
    real = parsing.real_pattern()

    def boolean(text: str) -> int:
        word = text.strip().lower()
        if word not in ("true", "false"):
            raise ValueError(text)
        return int(word == "true")

    def integer(text: str) -> int:
        if not _INTEGER.fullmatch(text.strip()) or abs(int(text)) >= _SQLITE_INTEGER_LIMIT:
            raise ValueError(text)
        return int(text)

    def number(text: str) -> float:
        if not real.fullmatch(text.strip()):
            raise ValueError(text)
        if _INTEGER.fullmatch(text.strip()) and abs(int(text)) >= _SQLITE_INTEGER_LIMIT:
            raise ValueError(text)  # a 20-digit id would lose digits as a float: it stays text
        return float(text.strip().replace(parsing.decimal, "."))

    def date(text: str) -> str:
        if not _ISO_DATE.fullmatch(text.strip()):
            raise ValueError(text)
        return dt.date.fromisoformat(text.strip()).isoformat()

    def timestamp(text: str) -> str:
        return _timestamp(text.strip(), parsing).isoformat(sep=" ")

    return [("boolean", boolean), ("integer", integer), ("real", number), ("date", date),
            ("timestamp", timestamp)]


def _timestamp(text: str, parsing: Parsing) -> dt.datetime:
    """A timestamp as wall time in the source's zone; naive values are taken as already in it."""
    value: dt.datetime | None = None
    if parsing.datetime_format:
        try:
            value = dt.datetime.strptime(text, parsing.datetime_format)
        except ValueError:
            value = None
    if value is None:
        if not _ISO_TIMESTAMP.fullmatch(text):  # fromisoformat alone also reads '20250131' and '2025-W05'
            raise ValueError(text)
        value = dt.datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(parsing.zone).replace(tzinfo=None)
    return value
