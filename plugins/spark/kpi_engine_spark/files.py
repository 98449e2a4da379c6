"""From a path in kpi.yml to what Spark's DataFrameReader needs: a location, a format and options.

Pure Python, no Spark: the format comes from the extension (as DuckDB's readers
choose it, so a ``file:`` dataset reads the same columns on both), relative
paths are relative to kpi.yml, and a local path that matches no file is found
out here with a clear message instead of a Spark analysis error.
"""

from __future__ import annotations

import glob
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kpi_engine import DefinitionError

__all__ = ["KNOWN_EXTENSIONS", "ReadSpec", "file_view_name", "format_of", "is_uri", "matches", "read_spec"]

_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".orc": "orc",
}
_COMPRESSED = (".gz", ".bz2")

#: What DuckDB's readers do without being told, so the same files give the same columns and types.
_DEFAULTS: dict[str, dict[str, str]] = {
    "csv": {"header": "true", "inferSchema": "true"},  # DuckDB sniffs a header and the column types
    "json": {"inferTimestamp": "true"},  # ISO timestamps as TIMESTAMP, not text
}

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


@dataclass(frozen=True)
class ReadSpec:
    """One view's data: ``session.read.format(format).options(**options).load(location)``."""

    location: str
    format: str
    options: dict[str, str] = field(default_factory=dict)
    written: str = ""  # the path as kpi.yml writes it, for messages

    @property
    def local(self) -> bool:
        return not is_uri(self.location)


def is_uri(path: str) -> bool:
    """``s3a://...``, ``hdfs://...``, ``file:/...``: a location Spark resolves, not a local path."""
    return bool(_URI.match(path))


def _suffix(path: str) -> str:
    """The extension that names the format: ``.csv`` for ``tickets.csv.gz``."""
    name = path.rstrip("/").lower()
    for suffix in _COMPRESSED:
        name = name.removesuffix(suffix)
    return Path(name).suffix


def format_of(path: str) -> str | None:
    """The Spark data source of a path, from its extension; None when it has no known one."""
    return _FORMATS.get(_suffix(path))


#: The extensions named in messages.
KNOWN_EXTENSIONS = ".parquet, .csv or .json"


def read_spec(written: str, base_dir: Path, *, format: str | None = None,
              options: Mapping[str, object] | None = None) -> ReadSpec:
    """The reader of a view or a ``file:`` dataset; DefinitionError when the format cannot be told."""
    if is_uri(written):
        location = written
    else:
        path = Path(written).expanduser()
        location = str(path if path.is_absolute() else base_dir / path)
    fmt = format or format_of(written)
    if fmt is None:
        raise DefinitionError(f"cannot tell the format of '{written}': it has no {KNOWN_EXTENSIONS} extension",
                              hint="a Spark source can read other files as a view of 'views:' with path and format",
                              code="no-files")
    reader = dict(_DEFAULTS.get(fmt.lower(), {}))
    if fmt.lower() == "csv" and _suffix(written) == ".tsv":
        reader["sep"] = "\t"
    if fmt.lower() == "json" and _starts_with_array(location):
        reader["multiLine"] = "true"  # a JSON array, not JSON Lines
    reader.update({key: _text(value) for key, value in (options or {}).items()})
    return ReadSpec(location, fmt, reader, written)


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def matches(location: str) -> list[str]:
    """The local files a path or glob names (a folder counts as one match)."""
    if "{" in location:  # a Hadoop {a,b} alternation: Python's glob cannot tell, Spark will
        return [location]
    return sorted(glob.glob(location))


def _starts_with_array(location: str) -> bool:
    """Whether a local JSON file holds one array (DuckDB reads both; Spark needs multiLine for it)."""
    if is_uri(location) or location.endswith((".gz", ".bz2")):
        return False
    for path in matches(location):
        if Path(path).is_file():
            with open(path, "rb") as handle:
                return handle.read(4096).lstrip()[:1] == b"["
    return False


def file_view_name(pattern: str) -> str:
    """The temporary view of a ``file:`` dataset: readable, and unique per path."""
    stem = re.sub(r"[^a-z0-9]+", "_", Path(pattern).name.lower()).strip("_")[:40] or "files"
    digest = hashlib.sha1(pattern.encode()).hexdigest()[:8]
    return f"kpi_file_{stem}_{digest}"
