"""Reading the folder: which files make which table, and each file's header and rows.

Files are only ever opened for reading. Every problem is a :class:`CsvProblem`
that says which file, which line and what to check; the connector adds the
source's name and turns it into a ``SourceError`` (exit status 3 of ``kpi``).
"""

from __future__ import annotations

import csv
import glob
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .columns import Parsing, column_name, type_column

__all__ = ["CsvProblem", "Table", "find_tables", "read_table"]


class CsvProblem(Exception):
    """A folder or file that cannot be read as the source's options say, and what to check."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Table:
    """One table: its files, its column names and kinds, and its converted rows."""

    name: str
    files: tuple[Path, ...]
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def find_tables(folder: Path, tables: dict[str, str], show: Callable[[Path], str]) -> dict[str, list[Path]]:
    """Table name -> its files: the ``tables`` option, or else every .csv file of the folder."""
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise CsvProblem(f"folder {show(folder)} {what}",
                         hint="check 'folder:' in kpi.yml (relative to kpi.yml)")
    if tables:
        found: dict[str, list[Path]] = {}
        for name, pattern in tables.items():
            files = sorted(folder / p for p in glob.glob(pattern, root_dir=folder) if (folder / p).is_file())
            if not files:
                kind = "no file matches" if glob.has_magic(pattern) else "there is no file"
                raise CsvProblem(f"{kind} {pattern} (table '{name}') in {show(folder)}",
                                 hint="check 'tables:' in kpi.yml; file names are relative to 'folder:'")
            found[name] = files
        return found
    found = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv"):
        name = column_name(path.stem)
        if name in found:
            raise CsvProblem(f"{show(found[name][0])} and {show(path)} would both be table '{name}'",
                             hint="name the tables yourself under 'tables:' in kpi.yml")
        found[name] = [path]
    if not found:
        raise CsvProblem(f"folder {show(folder)} has no .csv files",
                         hint="export the tables into it as .csv files, or name the files under 'tables:'")
    return found


def read_table(name: str, paths: Iterable[Path], *, delimiter: str, encoding: str, null_values: Iterable[str],
               parsing: Parsing, show: Callable[[Path], str]) -> Table:
    """Read a table's files (appended in order; all must have the same columns) and type its columns."""
    nulls = {"", *(value.strip() for value in null_values)}  # a field of spaces is empty too
    files = tuple(paths)
    columns: tuple[str, ...] = ()
    raw_rows: list[list[str]] = []
    for position, path in enumerate(files):
        header, rows = _read_file(path, delimiter, encoding, show)
        if position == 0:
            columns = header
        elif header != columns:
            raise CsvProblem(f"{show(path)} does not have the columns of {show(files[0])} (table '{name}'): "
                             f"{_difference(columns, header)}", hint="files of one table must have the same header")
        raw_rows.extend(rows)
    kinds: list[str] = []
    typed_columns: list[list[Any]] = []
    for i in range(len(columns)):
        kind, typed = type_column([None if row[i].strip() in nulls else row[i] for row in raw_rows], parsing)
        kinds.append(kind)
        typed_columns.append(typed)
    return Table(name, files, columns, tuple(kinds), list(zip(*typed_columns)))


def _difference(expected: tuple[str, ...], found: tuple[str, ...]) -> str:
    missing = [c for c in expected if c not in found]
    extra = [c for c in found if c not in expected]
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"extra {', '.join(extra)}"] if extra else [])
    return "; ".join(parts) or "the same columns in another order"


def _read_file(path: Path, delimiter: str, encoding: str, show: Callable[[Path], str]) -> tuple[tuple[str, ...],
                                                                                                 list[list[str]]]:
    """A file's column names (normalised, unique) and its rows, each as wide as the header."""
    try:
        data = path.read_bytes()  # decoded whole, so an encoding error can name its line
    except OSError as exc:
        raise CsvProblem(f"cannot read {show(path)}: {exc.strerror or exc}",
                         hint="check that the file exists and that this user may read it") from exc
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise CsvProblem(f"{show(path)} line {line}: byte 0x{data[exc.start]:02x} is not {encoding} text",
                         hint="set 'encoding:' in kpi.yml to the encoding of the export, e.g. latin-1 or "
                              "cp1252") from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise CsvProblem(f"{show(path)} is empty: its first line must name the columns",
                             hint="export the file with a header row")
        columns = _column_names(header, path, show)
        rows: list[list[str]] = []
        for record in reader:
            if not record:
                continue  # a blank line
            if len(record) != len(columns):
                raise CsvProblem(
                    f"{show(path)} line {reader.line_num}: {len(record)} fields, but the header has {len(columns)}",
                    hint=f"check 'delimiter:' (now {delimiter!r}) in kpi.yml and the quotes on that line")
            rows.append(record)
    except csv.Error as exc:
        raise CsvProblem(f"{show(path)} line {reader.line_num}: not valid CSV: {exc}",
                         hint="check the quotes on that line, and 'delimiter:' in kpi.yml") from exc
    return columns, rows


def _column_names(header: list[str], path: Path, show: Callable[[Path], str]) -> tuple[str, ...]:
    names: dict[str, str] = {}
    for position, text in enumerate(header, start=1):
        name = column_name(text) or f"column_{position}"
        if name in names:
            raise CsvProblem(f"{show(path)}: columns '{names[name]}' and '{text}' would both be '{name}'",
                             hint="rename one of them in the export")
        names[name] = text
    return tuple(names)
