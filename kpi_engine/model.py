"""The pydantic models of kpi.yml and of definition files (SPEC §2-3).

Models only describe and check the shape of one file; references between
definitions (a KPI's dataset, a join's dataset, formulas) are checked in
``validation``. Models are frozen and forbid unknown keys, so a misspelt key is
an error with a suggestion, never silently ignored. ``kpi schema`` prints the
JSON Schema generated from these classes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, field_validator, model_validator

from .status import KpiDisplay, status

__all__ = [
    "NAME_PATTERN",
    "Active",
    "Dataset",
    "DefinitionFile",
    "Join",
    "Kpi",
    "ProjectConfig",
    "SourceConfig",
    "humanise",
]

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Format = Literal["number", "integer", "percent", "currency", "duration"]
Direction = Literal["higher", "lower", "none"]


def humanise(name: str) -> str:
    """``first_contact_resolution`` → ``First contact resolution``."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Active(_Model):
    """The lifetime of each row, for stock aggregates (``at=start`` / ``at=end``)."""

    from_: str = Field(alias="from", description="Column where a row becomes active.")
    to: str | None = Field(None, description="Column where it stops being active; null = still active.")


class Join(_Model):
    """A many-to-one join: each row of the dataset meets at most one row of ``dataset``."""

    dataset: Name = Field(description="The dataset joined.")
    on: str | list[str] = Field(
        description="Column with the same name on both sides, or [local_column, remote_column]."
    )

    @field_validator("on")
    @classmethod
    def _two_columns(cls, on: str | list[str]) -> str | list[str]:
        if isinstance(on, list) and len(on) != 2:
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

    description: str | None = None
    source: Name = Field("default", description="Source name in kpi.yml; default 'default'.")
    table: str | None = Field(None, description="A table or view, schema-qualified allowed.")
    sql: str | None = Field(None, description="A SELECT query; its rows are the dataset.")
    file: str | None = Field(
        None, description="CSV, Parquet or JSON files (glob allowed), relative to kpi.yml."
    )
    time: str | None = Field(None, description="Column that places a row in a period.")
    key: str | None = Field(None, description="Primary key column.")
    active: Active | None = Field(None, description="Lifetime of each row, for at=start|end.")
    dimensions: dict[Name, str] = Field(
        default_factory=dict,
        description="name -> column, joined column (alias.column) or row-level expression.",
    )
    joins: dict[Name, Join] = Field(default_factory=dict, description="alias -> many-to-one join.")

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

    title: str | None = Field(None, description="Display name; default: the name, humanised.")
    description: str | None = Field(None, description="What it means and how it is computed.")
    dataset: Name | None = Field(
        None, description="Dataset of bare column names; may be left out for derived KPIs."
    )
    formula: str = Field(description="The formula (see docs/formulas.md).")
    filter: str | None = Field(None, description="Row filter on the KPI's dataset.")
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
        return KpiDisplay(self._name, self.format, self.decimals, self.unit, self.target, self.warning,
                          self.direction)


class DefinitionFile(_Model):
    """A file under definitions/: datasets and/or KPIs."""

    datasets: dict[Name, Dataset] = Field(default_factory=dict)
    kpis: dict[Name, Kpi] = Field(default_factory=dict)


class SourceConfig(BaseModel):
    """A data source: ``connector`` plus the connector's own options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    connector: str = Field(description="Connector name: duckdb, sqlite, or a plugin's.")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ProjectConfig(_Model):
    """kpi.yml."""

    name: str | None = None
    definitions: list[str] = Field(
        default_factory=lambda: ["definitions"], description="Folders or files of definitions."
    )
    plugins: list[str] = Field(default_factory=list, description="Local pluggy plugin modules.")
    sources: dict[Name, SourceConfig] = Field(default_factory=dict)
