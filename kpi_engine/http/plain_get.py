"""Reading a ``GET /query`` query string in its plain form without FastAPI.

A dashboard's request is nearly always plain: known parameters, each scalar once, dates as YYYY-MM-DD,
``status`` and ``format`` spelt as documented. Such a query string is read here into the same
``QueryRequest`` the route builds, and the app answers it without routing it through FastAPI: solving the
route's dependencies and validating nine parameters is about a millisecond of every uncached answer
(python bench/http_load.py). Anything else (an unknown or repeated parameter, an empty value, another
spelling of a date or a boolean) is left to the route, whose validation and messages stay the only ones.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl

from .models import QueryRequest

__all__ = ["plain_query"]

_LISTS = ("kpi", "by")
_SCALARS = ("grain", "where", "from", "to", "timezone", "status", "format")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z", re.ASCII)
_BOOLEANS = {"true": True, "false": False}
_FORMATS = ("json", "csv")


def plain_query(query_string: bytes) -> QueryRequest | None:
    """The query a plain query string asks for; None where the route must read it (see the module)."""
    try:
        # as Starlette reads it: latin-1 bytes, percent-escapes as UTF-8
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    except ValueError:
        return None
    lists: dict[str, list[str]] = {"kpi": [], "by": []}
    scalars: dict[str, str] = {}
    for name, value in pairs:
        if not value:
            return None
        if name in _LISTS:
            lists[name].append(value)
        elif name in _SCALARS and name not in scalars:
            scalars[name] = value
        else:
            return None
    if not lists["kpi"]:
        return None
    dates = {}
    for name in ("from", "to"):
        text = scalars.get(name)
        if text is not None:
            if not _DATE.match(text):
                return None
            try:
                dates[name] = dt.date.fromisoformat(text)
            except ValueError:
                return None
    status = _BOOLEANS.get(scalars.get("status", "false"))
    format_ = scalars.get("format", "json")
    if status is None or format_ not in _FORMATS:
        return None
    return QueryRequest.model_construct(kpis=lists["kpi"], grain=scalars.get("grain", "month"), by=lists["by"],
                                        where=scalars.get("where"), from_=dates.get("from"), to=dates.get("to"),
                                        timezone=scalars.get("timezone"), status=status, format=format_)
