"""The keys of a ``connector: spark`` source in kpi.yml, validated before anything starts.

Only the shape is checked here (kpi.yml errors point at their line); whether the
master answers, Java runs or the files exist is found out by ``connect()`` and
reported as a source failure (exit status 3).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from kpi_engine import ConnectorOptions

from .files import KNOWN_EXTENSIONS, format_of

__all__ = ["ConfValue", "SparkOptions", "ViewSpec"]

#: A Spark setting's value as YAML writes it; Spark receives it as text.
ConfValue = str | bool | int | float

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_values(values: object) -> object:
    """A setting is text, a number or true/false: name the key that holds anything else.

    (Left to pydantic, a list would be reported against the first type of the union: "str must be text".)
    """
    if isinstance(values, dict):
        for key, value in values.items():
            if not isinstance(value, ConfValue):
                shape = "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else "empty"
                raise ValueError(f"the value of '{key}' must be text, a number or true/false, not {shape}")
    return values


class ViewSpec(ConnectorOptions):
    """A view whose format or reader options cannot be told from its path (a folder, Delta, a ';' CSV)."""

    path: str = Field(description="File, folder or glob of the view's data; relative to kpi.yml unless it is a "
                                  "URI such as s3a://bucket/tickets/ or hdfs:///data/tickets.")
    format: str | None = Field(None, description="Spark data source name (parquet, csv, json, orc, delta, ...); "
                                                 "default: from the path's extension.")
    options: dict[str, ConfValue] = Field(default_factory=dict,
                                          description="Reader options (DataFrameReader.options), added to the "
                                                      "defaults of the format, e.g. {sep: ';'} for a CSV.")

    @field_validator("options", mode="before")
    @classmethod
    def _options_are_values(cls, options: object) -> object:
        return _check_values(options)


class SparkOptions(ConnectorOptions):
    """A Spark source: where Spark runs, how it is configured, and the files it reads as tables."""

    master: str = Field("local[*]", description="Spark master URL: local[*], local[N], spark://host:7077, yarn or "
                                                 "k8s://https://host:443. When the process already runs Spark and "
                                                 "master is not given, that Spark is used.")
    remote: str | None = Field(None, description="Spark Connect server, sc://host:15002 (a token as "
                                                 "sc://host:443/;token=${TOKEN}): Spark runs there, not in this "
                                                 "process, and no Java is needed here. Instead of master; needs "
                                                 "pip install 'kpi-engine-spark[connect]'.")
    conf: dict[str, ConfValue] = Field(default_factory=dict,
                                       description="Spark settings, e.g. spark.executor.memory: 4g. Settings of "
                                                   "the application apply when kpi starts Spark; spark.sql.* "
                                                   "runtime settings apply to every session. "
                                                   "spark.sql.session.timeZone is always UTC.")
    views: dict[str, ViewSpec] = Field(default_factory=dict,
                                       description="Temporary views that table: datasets read: view name -> "
                                                   "Parquet, CSV or JSON file or glob (format from the extension; "
                                                   "relative to kpi.yml), or a mapping with path, format and "
                                                   "options.")

    @field_validator("remote")
    @classmethod
    def _remote_is_spark_connect(cls, remote: str | None) -> str | None:
        if remote is not None and not remote.startswith("sc://"):
            raise ValueError(f"remote '{remote}' is not a Spark Connect URL: write sc://host:15002")
        return remote

    @model_validator(mode="after")
    def _master_or_remote(self) -> SparkOptions:
        """Spark runs either in this process (master) or on a Spark Connect server (remote)."""
        if self.remote is not None and "master" in self.model_fields_set:
            raise ValueError("give master (Spark runs in this process) or remote (a Spark Connect server), "
                             "not both")
        return self

    @field_validator("conf", mode="before")
    @classmethod
    def _conf_is_values(cls, conf: object) -> object:
        zone = conf.get("spark.sql.session.timeZone") if isinstance(conf, dict) else None
        if zone is not None and str(zone).strip().upper() not in ("UTC", "ETC/UTC", "Z", "+00:00"):
            # kpi converts every time itself (the dataset's timezone:, the calendar's): a session zone
            # other than UTC would make the numbers depend on it
            raise ValueError(f"spark.sql.session.timeZone is always UTC, so the numbers never depend on it (got "
                             f"'{zone}'): "
                             "give naive timestamps their zone with the dataset's timezone:, and cut periods in "
                             "another zone with calendar: timezone: in kpi.yml")
        return _check_values(conf)

    @field_validator("views", mode="before")
    @classmethod
    def _paths_are_views(cls, views: object) -> object:
        """``name: path`` is short for ``name: {path: path}``."""
        if isinstance(views, dict):
            return {name: {"path": spec} if isinstance(spec, str) else spec for name, spec in views.items()}
        return views

    @field_validator("views")
    @classmethod
    def _views_are_readable(cls, views: dict[str, ViewSpec]) -> dict[str, ViewSpec]:
        """A view name is written unquoted in ``table:`` and in the SQL: it must be a plain identifier.

        Its format must be known before Spark starts, so that a typo is reported at its line in kpi.yml.
        """
        for name, spec in views.items():
            if not _IDENTIFIER.fullmatch(name):
                raise ValueError(f"'{name}' is not a valid view name (letters, digits and _, not starting with a "
                                 "digit)")
            if spec.format is None and format_of(spec.path) is None:
                raise ValueError(f"view '{name}' needs a format: its path '{spec.path}' has no {KNOWN_EXTENSIONS} "
                                 "extension")
        return views

    def conf_text(self) -> dict[str, str]:
        """The settings as Spark wants them: text, booleans in lower case."""
        return {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in self.conf.items()}
