"""Results as the command prints them: an aligned table, CSV or JSON (SPEC §6.1)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..result import Result

__all__ = ["render_result"]


def render_result(result: Result, fmt: str) -> str:
    """JSON: an array of row objects, numbers as numbers, null as null. CSV: raw values.
    Table: values formatted by each KPI's format."""
    if fmt == "json":
        return json.dumps(result.to_dicts(), indent=2, ensure_ascii=False)
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(["" if v is None else v for v in row] for row in result.rows)
        return buffer.getvalue().rstrip("\n")
    from ..formatting import format_value, render_table

    kpis = result.kpis
    partial = set(result.partial_periods)

    def cell(column: str, value: object) -> str:
        text = format_value(value, kpis.get(column))
        return f"{text}*" if column == "period" and value in partial else text  # a period still in progress

    rows = [[cell(c, v) for c, v in zip(result.columns, row)] for row in result.rows]
    table = render_table(result.columns, rows, right=[c in kpis for c in result.columns])
    return table + ("\n* the period is still in progress" if partial else "")
