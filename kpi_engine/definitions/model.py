"""The pydantic models of kpi.yml and of definition files (SPEC §2-3).

Models only describe and check the shape of one file; references between
definitions (a KPI's dataset, a join's dataset, formulas) are checked in
``validation``. Models are frozen and forbid unknown keys, so a misspelt key is
an error with a suggestion, never silently ignored. ``kpi schema`` prints the
JSON Schema generated from these classes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ..status import DISPLAY_FIELDS, KpiDisplay, status
from ..timezones import check_zone

__all__ = [
    "COLUMN_PATTERN",
    "NAME_PATTERN",
    "RESERVED_NAMES",
    "Active",
    "CalendarConfig",
    "Dataset",
    "DefinitionFile",
    "Join",
    "Kpi",
    "ProjectConfig",
    "ServeConfig",
    "SourceConfig",
    "TokenConfig",
    "humanise",
    "reserved_name_problem",
]

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
#: a field that names one column (time, key, active, join columns): ``validation`` checks it
#: (bad-column); the model carries it so that the JSON Schema says it too
COLUMN_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: names no KPI or dimension may take: ``period`` is the column of periods in every result
RESERVED_NAMES = frozenset({"period"})
_NOT_BLANK = {"type": "string", "minLength": 1, "pattern": r"\S"}


def reserved_name_problem(name: str, kind: str) -> str | None:
    """Why ``name`` cannot name a ``kind`` (KPI or dimension), or None when it can."""
    if name in RESERVED_NAMES:
        return f"'{name}' is reserved for the column of periods in every result; choose another name for this {kind}"
    return None


def _not_reserved(kind: str) -> AfterValidator:
    def check(name: str) -> str:
        problem = reserved_name_problem(name, kind)
        if problem:
            raise ValueError(problem)
        return name

    return AfterValidator(check)


_RESERVED_SCHEMA = WithJsonSchema({"type": "string", "pattern": NAME_PATTERN,
                                   "not": {"enum": sorted(RESERVED_NAMES)}})

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
#: a key of ``kpis:`` (the engine reads each entry alone and checks its name in ``definitions._add_entry``)
KpiName = Annotated[str, StringConstraints(pattern=NAME_PATTERN), _not_reserved("KPI"), _RESERVED_SCHEMA]
DimensionName = Annotated[str, StringConstraints(pattern=NAME_PATTERN), _not_reserved("dimension"), _RESERVED_SCHEMA]
#: table, sql and file: not blank (``Dataset._not_blank``)
Relation = Annotated[str, WithJsonSchema(_NOT_BLANK)]
#: time, key, active and join columns
_COLUMN_SCHEMA = {"type": "string", "pattern": COLUMN_PATTERN}
Column = Annotated[str, WithJsonSchema(_COLUMN_SCHEMA)]
#: formulas, filters and dimension expressions: the parser reports a blank one as an empty formula
Expression = Annotated[str, WithJsonSchema(_NOT_BLANK)]

Format = Literal["number", "integer", "percent", "currency", "duration"]
Direction = Literal["higher", "lower", "none"]


def _given(key: str) -> dict[str, Any]:
    """JSON Schema: ``key`` is written with a value (a null one counts as left out, as in the models)."""
    return {"required": [key], "properties": {key: {"not": {"type": "null"}}}}


def humanise(name: str) -> str:
    """``first_contact_resolution`` → ``First contact resolution``."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _time_zone(name: str) -> str:
    """An IANA time zone name (America/Sao_Paulo), as written; the nearest one when it is misspelt."""
    problem = check_zone(name)
    if problem is not None:
        raise ValueError(problem)
    return name


TimeZone = Annotated[str, AfterValidator(_time_zone)]


class Active(_Model):
    """The lifetime of each row, for stock aggregates (``at=start`` / ``at=end``)."""

    from_: Column = Field(alias="from", description="Column where a row becomes active.")
    to: Column | None = Field(None, description="Column where it stops being active; null = still active.")


class Join(_Model):
    """A many-to-one join: each row of the dataset meets at most one row of ``dataset``."""

    dataset: Name = Field(description="The dataset joined.")
    on: Column | Annotated[list[Column], WithJsonSchema({"type": "array", "items": _COLUMN_SCHEMA,
                                                         "minItems": 2, "maxItems": 2})] = Field(
        description="Column with the same name on both sides, or [local_column, remote_column]."
    )

    @field_validator("on", mode="before")
    @classmethod
    def _two_columns(cls, on: Any) -> Any:
        """One message for every wrong shape (the union's own would name its members: 'str must be text')."""
        two = isinstance(on, list) and len(on) == 2 and all(isinstance(column, str) for column in on)
        if not isinstance(on, str) and not two:
            raise ValueError("'on' takes one column name or a list of two: [local_column, remote_column]")
        return on

    @property
    def columns(self) -> tuple[str, str]:
        """(local column, remote column)."""
        if isinstance(self.on, str):
            return self.on, self.on
        return self.on[0], self.on[1]


class Dataset(_Model):
    """Rows that KPIs aggregate: a table, a query or files, placed in time by a column."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [_given(k) for k in ("table", "sql", "file")]})

    description: str | None = None
    source: Name = Field("default", description="Source name in kpi.yml; default 'default'.")
    table: Relation | None = Field(None, description="A table or view, schema-qualified allowed.")
    sql: Relation | None = Field(None, description="A SELECT query; its rows are the dataset.")
    file: Relation | None = Field(
        None, description="CSV, Parquet or JSON files (glob allowed), relative to kpi.yml."
    )
    time: Column | None = Field(None, description="Column that places a row in a period.")
    timezone: TimeZone = Field("UTC", description="IANA time zone of the naive timestamps of this dataset; "
                                                   "columns with a time zone are absolute already.")
    key: Column | None = Field(None, description="Primary key column.")
    active: Active | None = Field(None, description="Lifetime of each row, for at=start|end.")
    dimensions: dict[DimensionName, Expression] = Field(
        default_factory=dict,
        description="name -> column, joined column (alias.column) or row-level expression.",
    )
    joins: dict[Name, Join] = Field(default_factory=dict, description="alias -> many-to-one join.")

    @field_validator("table", "sql", "file")
    @classmethod
    def _not_blank(cls, value: str | None, info: ValidationInfo) -> str | None:
        """``table: ""`` would only fail later, as SQL that reads nothing: say so at the value."""
        if value is not None and not value.strip():
            raise ValueError(f"{info.field_name} is empty")
        return value

    @model_validator(mode="after")
    def _one_relation(self) -> Dataset:
        given = [k for k in ("table", "sql", "file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a dataset needs exactly one of 'table', 'sql' or 'file'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class Kpi(_Model):
    """A KPI: a formula over a dataset, with how to show it and what good looks like."""

    # the rules of ``validation._thresholds`` that JSON Schema can say (not warning vs target)
    model_config = ConfigDict(json_schema_extra={
        "if": _given("warning"),
        "then": {"required": ["target"], "properties": {"target": {"not": {"type": "null"}},
                                                        "direction": {"not": {"const": "none"}}}},
    })

    title: str | None = Field(None, description="Display name; default: the name, humanised.")
    description: str | None = Field(None, description="What it means and how it is computed.")
    dataset: Name | None = Field(
        None, description="Dataset of bare column names; may be left out for derived KPIs."
    )
    formula: Expression = Field(description="The formula (see docs/formulas.md).")
    filter: Expression | None = Field(None, description="Row filter on the KPI's dataset.")
    format: Format = Field("number", description="number | integer | percent | currency | duration")
    unit: str | None = Field(None, description="Free text unit, e.g. BRL.")
    decimals: Annotated[int, Field(ge=0, le=12)] | None = Field(
        None, description="Display precision."
    )
    direction: Direction = Field("higher", description="Which way is better: higher | lower | none.")
    target: float | None = Field(None, description="Target value (percent values are fractions).")
    warning: float | None = Field(None, description="Between warning and target the status is warn.")
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    hidden: bool = Field(False, description="Helper KPI, not listed by default.")

    _name: str = PrivateAttr("")

    @property
    def name(self) -> str:
        return self._name

    @property
    def display_title(self) -> str:
        return self.title or humanise(self._name)

    def status(self, value: float | None) -> str | None:
        """``ok``, ``warn``, ``bad``, or None when the value or target is null (SPEC §3.2)."""
        return status(value, self.target, self.warning, self.direction)

    def display(self) -> KpiDisplay:
        """What formatting and status read, light enough for the cached ``kpi run``: every field of
        ``KpiDisplay``, copied by name, so a display field is declared once (there)."""
        return KpiDisplay(**{name: getattr(self, name) for name in DISPLAY_FIELDS})


class DefinitionFile(_Model):
    """A file under definitions/: datasets and/or KPIs."""

    # ``kpis:`` with nothing under it is an empty section, as the engine reads it
    datasets: dict[Name, Dataset] | None = Field(default_factory=dict)
    kpis: dict[KpiName, Kpi] | None = Field(default_factory=dict)


class SourceConfig(BaseModel):
    """A data source: ``connector`` plus the connector's own options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    connector: str = Field(description="Connector name: duckdb, sqlite, or a plugin's.")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class CalendarConfig(_Model):
    """How periods are cut: the business's time zone, week start and fiscal year."""

    timezone: TimeZone = Field("UTC", description="IANA time zone periods are cut in: a day runs from local "
                                                   "midnight to local midnight.")
    week_start: Literal["monday", "sunday", "saturday"] = Field("monday", description="First day of a week.")
    fiscal_year_start: Annotated[int, Field(ge=1, le=12)] = Field(
        1, description="Month (1-12) the fiscal year starts in; a fiscal year is named by the year it starts in.")


class TokenConfig(_Model):
    """A bearer token of ``kpi serve``: what its holder may see."""

    name: str = Field(description="Who holds it, for people (never the token itself).")
    token: str = Field(description="The secret, usually ${VARIABLE}; compared in constant time, never shown.")
    kpis: list[str] = Field(default_factory=list, description="KPI names or tag:T it may query; default all.")
    where: str | None = Field(None, description="Row filter over dimensions forced onto every query of this token.")


class ServeConfig(_Model):
    """``kpi serve``: the HTTP API and its dashboard."""

    tokens: list[TokenConfig] = Field(default_factory=list, description="Without tokens: loopback only.")
    cache_ttl: Annotated[float, Field(ge=0)] = Field(300, description="Seconds a result is reused; 0 = no cache.")
    max_rows: Annotated[int, Field(ge=1)] = Field(100_000, description="Rows a query may return (413 beyond).")
    timeout: Annotated[float, Field(gt=0)] = Field(30, description="Seconds per query; then it is cancelled (504).")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API from a page.")
    max_kpis: Annotated[int, Field(ge=1)] = Field(100, description="KPIs one query may ask for.")


class ProjectConfig(_Model):
    """kpi.yml."""

    name: str | None = None
    definitions: list[str] = Field(
        default_factory=lambda: ["definitions"], description="Folders or files of definitions."
    )
    plugins: list[str] = Field(default_factory=list, description="Local pluggy plugin modules.")
    sources: dict[Name, SourceConfig] = Field(default_factory=dict)
    calendar: CalendarConfig = Field(default_factory=CalendarConfig, description="How periods are cut.")
    serve: ServeConfig = Field(default_factory=ServeConfig, description="The HTTP API (kpi serve).")
