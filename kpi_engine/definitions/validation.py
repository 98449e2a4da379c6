"""Rules across definitions, checked before any SQL runs (SPEC §4.4).

Each rule returns the errors it finds instead of raising, so a project with
several mistakes reports all of them at once. Checks against a live source
(columns exist, joins are many-to-one) live in ``live_checks``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import re

from .catalog import Catalog, DatasetEntry, KpiEntry
from ..errors import DefinitionError, KpiError, Span, unique_errors, unknown
from .files import hide_line

if TYPE_CHECKING:
    from ..formulas.binder import Binder
    from .loader import YamlDocument
    from .model import ServeConfig

__all__ = ["validate_catalog", "validate_serve"]

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


#: Given the path of a token's ``where`` in kpi.yml and its text, the names it reads, each with its place;
#: raises a positioned error when it does not parse. Parsing formulas is a layer above this one, so the
#: project gives it.
ConditionNames = Callable[[tuple[Any, ...], str], list[tuple[str, Span]]]


def validate_serve(serve: ServeConfig, document: YamlDocument, catalog: Catalog,
                   condition_names: ConditionNames) -> list[KpiError]:
    """kpi.yml's ``serve.tokens``, checked when the project loads (so ``kpi validate`` finds them): every
    token has a value of its own and a name of its own, its ``kpis`` name KPIs or tags that exist, and its
    ``where`` parses and reads dimensions. The errors keep their place but never show the line (it may
    hold a token written in the file), and never a token's value."""
    errors: list[KpiError] = []
    names: dict[str, int] = {}
    values: dict[str, str] = {}
    for i, token in enumerate(serve.tokens):
        base = ("serve", "tokens", i)
        if token.name in names:
            errors.append(DefinitionError(
                f"token name '{token.name}' is used twice (first in token {names[token.name] + 1})",
                span=document.span_at(base + ("name",)), code="serve-tokens"))
        names.setdefault(token.name, i)
        if not token.token.strip():
            errors.append(DefinitionError(f"token '{token.name}' is empty: set it, usually through ${{VARIABLE}}",
                                          span=document.span_at(base + ("token",)), code="serve-tokens"))
        elif token.token in values:
            errors.append(DefinitionError(f"tokens '{values[token.token]}' and '{token.name}' have the same value; "
                                          "give each holder a token of its own",
                                          span=document.span_at(base + ("token",)), code="serve-tokens"))
        values.setdefault(token.token, token.name)
        errors.extend(_token_kpis(token.name, token.kpis, document, base, catalog))
        if token.where is not None:
            errors.extend(_token_where(token.name, token.where, document, base + ("where",), catalog, condition_names))
    for error in errors:
        error.span = hide_line(error.span)
    return errors


def _token_kpis(name: str, kpis: list[str], document: YamlDocument, base: tuple, catalog: Catalog) -> list[KpiError]:
    """Each entry of a token's ``kpis`` is a KPI name or ``tag:T`` of a tag some KPI carries."""
    if catalog.incomplete:
        return []  # a file failed to parse: its KPIs and tags are unknown
    tags = sorted({tag for entry in catalog.kpis.values() for tag in entry.model.tags})
    errors: list[KpiError] = []
    for j, item in enumerate(kpis):
        where = f" in token '{name}'"
        if item.startswith("tag:"):
            tag = item[len("tag:"):].strip()
            if tag in tags:
                continue
            message = unknown("tag", tag, tags, where=where, otherwise=" (no KPI has it)")
        elif item in catalog.kpis or item in catalog.broken:
            continue
        else:
            message = unknown("KPI", item, catalog.kpis, where=where, otherwise=" (write a KPI name, or tag:T)")
        errors.append(DefinitionError(message, span=document.span_at(base + ("kpis", j)), code="serve-tokens"))
    return errors


def _token_where(name: str, text: str, document: YamlDocument, path: tuple, catalog: Catalog,
                 condition_names: ConditionNames) -> list[KpiError]:
    """A token's row filter parses, and each name it reads is a dimension of some dataset (a dataset
    without it cannot be limited: querying it is refused, which is the point)."""
    try:
        names = condition_names(path, text)
    except KpiError as error:
        return list(error.errors)
    if catalog.incomplete or catalog.broken:
        return []  # a definition failed to load: its dimensions are unknown
    dimensions = sorted({d for entry in catalog.datasets.values() for d in entry.model.dimensions})
    return [DefinitionError(unknown("dimension", ref, dimensions, where=f" in the where of token '{name}'",
                                    otherwise=" (a token's where reads dimensions of the datasets)"),
                            span=span, code="serve-tokens")
            for ref, span in names if ref not in dimensions]
