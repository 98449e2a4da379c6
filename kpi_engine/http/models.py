"""The HTTP API's requests and responses as pydantic models: they are what /openapi.json documents.

Responses are built from the project's own answers (``Project.describe``, ``Project.dimensions``,
``Result``); the models only give them a documented shape. A body names its fields exactly: an unknown
field is a 400 with the nearest field's name, never silently ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import unknown

__all__ = ["CompileRequest", "CompileResult", "Dimension", "ErrorBody", "ErrorDetail", "Health", "KpiDetail",
           "KpiInfo", "KpiMeta", "QueryMeta", "QueryRequest", "QueryResult"]


class ErrorDetail(BaseModel):
    code: str = Field(description="A short stable code: unknown-kpi, forbidden, bad-parameter, source, timeout, ...")
    message: str = Field(description="What is wrong, with the nearest valid name when one is close.")
    file: str | None = Field(description="Where the mistake is written: a definition file, or 'where'/'--where'.")
    line: int | None = Field(description="1-based line in `file`.")
    column: int | None = Field(description="1-based column in `file`.")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer."""

    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded: the definitions on disk do not load (the last good ones still serve) or a "
                    "source fails.")
    kpis: int = Field(description="How many KPIs GET /kpis lists for this caller.")
    sources: dict[str, str] = Field(description="Each source: 'ok', or why it fails.")
    errors: list[ErrorDetail] | None = Field(None, description="While degraded: what is wrong.")


class KpiInfo(BaseModel):
    name: str
    title: str
    description: str | None
    format: str = Field(description="number, integer, percent, currency or duration.")
    unit: str | None
    decimals: int | None
    direction: str = Field(description="higher, lower or none: which way is better.")
    target: float | None
    warning: float | None
    owner: str | None
    tags: list[str]
    hidden: bool
    dataset: str | None
    dimensions: list[str] = Field(description="The dimensions a query of this KPI may use in by and where.")


class KpiDetail(KpiInfo):
    formula: str
    filter: str | None
    uses: list[str] = Field(description="The KPIs its formula references directly.")


class Dimension(BaseModel):
    name: str
    datasets: list[str] = Field(description="The datasets that define it.")
    kpis: list[str] = Field(description="The KPIs a query may break down by it.")


class KpiMeta(BaseModel):
    title: str
    format: str
    unit: str | None
    decimals: int | None
    target: float | None
    warning: float | None
    direction: str


class QueryMeta(BaseModel):
    kpis: dict[str, KpiMeta] = Field(description="How to show and judge each KPI column.")
    partial_periods: list[str] = Field(description="Periods still in progress (YYYY-MM-DD).")
    cached: bool = Field(description="The result was reused from the server's cache.")


class QueryResult(BaseModel):
    columns: list[str] = Field(description="period (absent at grain all), the by dimensions, then one per KPI "
                                           "(and KPI__status after each KPI with a target, with status=true).")
    rows: list[dict[str, Any]] = Field(description="One object per row, keyed by column.")
    meta: QueryMeta


class _Body(BaseModel):
    """A JSON body: its fields exactly, an unknown one named with the nearest known one."""

    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"additionalProperties": False})

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            names = [field.alias or name for name, field in cls.model_fields.items()]
            for key in data:
                if key not in names:
                    raise ValueError(unknown("field", str(key), names, where=" in the body",
                                             otherwise=f" (expected {', '.join(names)})"))
        return data


class _QueryFields(_Body):
    kpis: list[str] = Field(min_length=1, description="KPI names; each gets a column, in this order.")
    grain: str = Field("month", description="day, week, month, quarter, year, ... or all.")
    by: list[str] = Field(default_factory=list, description="Dimension names to break down by.")
    where: str | None = Field(None, description="A condition over dimensions: \"channel = 'email'\".")
    from_: dt.date | None = Field(None, alias="from", description="First day, inclusive (YYYY-MM-DD).")
    to: dt.date | None = Field(None, description="Last day, inclusive (YYYY-MM-DD).")
    timezone: str | None = Field(None, description="IANA time zone the periods are cut in; default the project's.")


class QueryRequest(_QueryFields):
    status: bool = Field(False, description="Add KPI__status (ok, warn, bad) after each KPI with a target.")
    format: Literal["json", "csv"] = Field("json", description="json, or csv for text/csv.")


class CompileRequest(_QueryFields):
    dialect: str | None = Field(None, description="A SQL dialect (snowflake, bigquery, ...); default the source's.")


class CompileResult(BaseModel):
    sql: str
