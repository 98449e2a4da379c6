"""Rules across definitions, checked before any SQL runs (SPEC §4.4).

Each rule returns the errors it finds instead of raising, so a project with
several mistakes reports all of them at once. Checks against a live source
(columns exist, joins are many-to-one) live in ``live_checks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import re

from .catalog import Catalog, DatasetEntry, KpiEntry
from ..errors import DefinitionError, KpiError, unique_errors

if TYPE_CHECKING:
    from ..formulas.binder import Binder

__all__ = ["validate_catalog"]

_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_catalog(catalog: Catalog, binder: Binder) -> list[KpiError]:
    errors: list[KpiError] = []
    for entry in catalog.datasets.values():
        errors.extend(_dataset_columns(entry))
        errors.extend(_join_aliases(entry, catalog))
        errors.extend(binder.check_dataset(entry))
    for entry in catalog.kpis.values():
        try:
            binder.metric(entry.name)
        except KpiError as exc:
            if not isinstance(exc, DefinitionError) or exc.span is None:
                continue  # depends on a KPI whose own error is already reported
            errors.append(exc)
        errors.extend(_thresholds(entry))
    return unique_errors(errors)


def _dataset_columns(entry: DatasetEntry) -> list[KpiError]:
    """Fields that name one column must be a plain column name."""
    model = entry.model
    named: list[tuple[tuple, str | None]] = [(("time",), model.time), (("key",), model.key)]
    if model.active is not None:
        named += [(("active", "from"), model.active.from_), (("active", "to"), model.active.to)]
    for alias, join in model.joins.items():
        if isinstance(join.on, str):
            named.append((("joins", alias, "on"), join.on))
        else:
            named += [(("joins", alias, "on", i), column) for i, column in enumerate(join.on)]
    errors: list[KpiError] = []
    for path, value in named:
        if value is not None and not _COLUMN.match(value):
            errors.append(DefinitionError(f"'{value}' is not a column name (letters, digits and _)",
                                          span=entry.span(*path), code="bad-column"))
    return errors


def _join_aliases(entry: DatasetEntry, catalog: Catalog) -> list[KpiError]:
    """A join alias that names a dataset would make ``alias.column`` ambiguous: the dataset's own
    name never, another dataset's only when the join is to that dataset (a dataset whose join
    names an unknown dataset is reported for that by the binder)."""
    errors: list[KpiError] = []
    datasets = catalog.datasets
    for alias, join in entry.model.joins.items():
        if alias == entry.name:
            message = f"join alias '{alias}' is the dataset's own name; choose another alias"
        elif alias in datasets and join.dataset in datasets and alias != join.dataset:
            message = (f"join alias '{alias}' is also the name of dataset '{alias}'; "
                       "choose another alias so 'alias.column' is not ambiguous")
        else:
            continue
        errors.append(DefinitionError(message, span=entry.document.key_span(entry.path + ("joins", alias)),
                                      code="ambiguous-join"))
    return errors


def _thresholds(entry: KpiEntry) -> list[KpiError]:
    """warning must sit on the bad side of target, and a direction is needed to judge."""
    model = entry.model
    if model.warning is None:
        return []
    if model.target is None:
        return [DefinitionError("'warning' needs a 'target'", span=entry.span("warning"), code="thresholds")]
    if model.direction == "higher" and model.warning > model.target:
        return [DefinitionError(f"with direction higher, warning ({model.warning:g}) must be below target "
                                f"({model.target:g})", span=entry.span("warning"), code="thresholds")]
    if model.direction == "lower" and model.warning < model.target:
        return [DefinitionError(f"with direction lower, warning ({model.warning:g}) must be above target "
                                f"({model.target:g})", span=entry.span("warning"), code="thresholds")]
    if model.direction == "none":
        return [DefinitionError("direction none cannot judge a warning; set direction to higher or lower",
                                span=entry.span("direction") if "direction" in entry.document.data[entry.path[0]][entry.name]
                                else entry.span("warning"), code="thresholds")]
    return []
