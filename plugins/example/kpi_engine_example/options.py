"""The options of a ``csv_folder`` source: every key of it in kpi.yml except ``connector``.

kpi_engine validates them with this model when the project is loaded, so a
misspelt key or a bad value is an error at its line in kpi.yml, before any file
is opened. Checks that need no file (an encoding Python knows, a time zone that
exists, a one-character delimiter) belong here rather than in the connector:
they then fail early and point at the option.
"""

from __future__ import annotations

import codecs
import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StringConstraints, field_validator, model_validator

from kpi_engine import ConnectorOptions

__all__ = ["CsvFolderOptions", "TableName", "zone"]

#: A table name as datasets write it in ``table:`` (the pattern of every kpi_engine name).
TableName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


class CsvFolderOptions(ConnectorOptions):
    """A folder of CSV exports, each file (or group of files) one table."""

    folder: str = Field(description="The folder of CSV files, relative to kpi.yml.")
    tables: dict[TableName, str] = Field(
        default_factory=dict,
        description="Table name -> file name or glob pattern in the folder (files of one pattern are appended). "
                    "Default: every *.csv file of the folder, named after the file.")
    delimiter: str = Field(",", description="The field separator: one character, e.g. ';' or \"\\t\".")
    encoding: str = Field("utf-8-sig", description="The files' text encoding (utf-8-sig also reads a BOM).")
    decimal: Literal[".", ","] = Field(".", description="The decimal separator of numbers.")
    null_values: list[str] = Field(default_factory=list,
                                   description="Values read as null, besides the empty field (e.g. ['N/A', '-']).")
    datetime_format: str | None = Field(
        None, description="strptime format of timestamps that are not ISO 8601, e.g. '%d/%m/%Y %H:%M'.")
    timezone: str = Field("UTC", description="Time zone timestamps with an offset are converted to (IANA name).")

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"delimiter must be one character (a tab is \"\\t\", in double quotes); got {value!r}")
        if value in "\r\n\"":
            raise ValueError(f"delimiter cannot be a line break or a quote; got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"encoding must be one Python knows (utf-8-sig, latin-1, cp1252, ...); "
                             f"got '{value}'") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("datetime_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "%" not in value:
            raise ValueError(f"datetime_format must be a strptime format such as '%d/%m/%Y %H:%M'; got '{value}'")
        sample = dt.datetime(2025, 1, 31, 13, 45, 30)
        try:  # a format strptime cannot read back is useless for reading
            dt.datetime.strptime(sample.strftime(value), value)
        except ValueError as exc:
            raise ValueError(f"datetime_format must be a strptime format such as '%d/%m/%Y %H:%M'; got '{value}' "
                             f"({exc})") from None
        return value

    @model_validator(mode="after")
    def _decimal_is_not_the_delimiter(self) -> CsvFolderOptions:
        if self.decimal == self.delimiter:
            raise ValueError(f"decimal and delimiter cannot both be '{self.delimiter}': files with decimal commas "
                             "separate fields with another character, usually ';'")
        return self


def zone(name: str) -> dt.tzinfo:
    """The tzinfo of an IANA name; UTC needs no time zone database (absent on some systems)."""
    if name.upper() == "UTC":
        return dt.timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone must be an IANA time zone name such as America/Sao_Paulo or UTC; "
                         f"got '{name}'") from None
