"""Checks that need the data: every column a definition reads exists, every join is many-to-one.

Run by ``kpi validate`` (unless ``--no-source``), and after a failed query to
turn a database's "column not found" into an error at the formula token that
names the column, with a suggestion. It reads the sources through the
project's ``registry.Sources`` (connections, relations, dialects), nothing else of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from ..compiler.sql import col, lit, select, subquery
from ..errors import DefinitionError, KpiError, SourceError, unique_errors, unknown

if TYPE_CHECKING:
    from ..formulas.binder import Binder
    from .registry import Sources

__all__ = ["live_errors"]


def live_errors(sources: Sources, binder: Binder, datasets: list[str]) -> list[KpiError]:
    """Every problem of these datasets found against their sources, and of the columns the
    definitions (bound by ``binder``) read in them."""
    errors: list[KpiError] = []
    columns: dict[str, dict[str, str]] = {}
    unreachable: set[str] = set()
    catalog = sources.catalog
    for name in datasets:
        entry = catalog.datasets[name]
        source = entry.model.source
        if source not in sources.connectors or source in unreachable:
            continue  # a source kpi.yml could not build is reported by load()
        dialect = sources.dialect(source)
        relation_sql = dialect.generate(sources.relation(entry, dialect), pretty=False)
        try:
            connection = sources.connection(source)
        except SourceError as exc:  # a source that cannot be opened: said once, not once per dataset
            unreachable.add(source)
            errors.append(exc)
            continue
        try:
            found = connection.columns(relation_sql)
        except SourceError as exc:
            field = "table" if entry.model.table else "sql" if entry.model.sql else "file"
            errors.append(SourceError(f"dataset '{name}' cannot be read: {exc.message}", span=entry.span(field),
                                      hint=exc.hint, code="source"))
            continue
        columns[name] = {c.lower(): c for c in found}

    def missing(dataset: str, column: str) -> str | None:
        known = columns.get(dataset)
        if known is None or column.lower() in known:
            return None
        return unknown("column", column, known.values(), where=f" in dataset '{dataset}'")

    for dataset, column, text, node in binder.usages:
        message = missing(dataset, column)
        if message:
            start = node.end - len(column) if getattr(node, "qualifier", None) else node.start
            errors.append(text.error((start, node.end), message, code="unknown-column"))
    for name in datasets:
        entry = catalog.datasets[name]
        model = entry.model
        fields = [(("time",), model.time), (("key",), model.key)]
        if model.active is not None:
            fields += [(("active", "from"), model.active.from_), (("active", "to"), model.active.to)]
        for path, column in fields:
            message = column and missing(name, column)
            if message:
                errors.append(DefinitionError(message, span=entry.span(*path), code="unknown-column"))
        for alias_name, join in model.joins.items():
            local, remote = join.columns
            path = ("joins", alias_name, "on")
            for dataset, column, index in ((name, local, 0), (join.dataset, remote, 1)):
                message = missing(dataset, column)
                if message:
                    sub = path + (index,) if isinstance(join.on, list) else path
                    errors.append(DefinitionError(message, span=entry.span(*sub), code="unknown-column"))
            if join.dataset in columns and remote.lower() in columns[join.dataset]:
                errors += _many_to_one(sources, name, alias_name, remote)
    return unique_errors(errors)


def _many_to_one(sources: Sources, dataset: str, alias_name: str, remote: str) -> list[KpiError]:
    """A join that matched several rows would count a row several times."""
    catalog = sources.catalog
    entry = catalog.datasets[dataset]
    join = entry.model.joins[alias_name]
    target = catalog.datasets[join.dataset]
    dialect = sources.dialect(target.model.source)
    relation = sources.relation(target, dialect)
    source = relation.copy() if isinstance(relation, exp.Table) else subquery(relation, "kpi_target")
    query = select([col(remote)], source, where=exp.Not(this=exp.Is(this=col(remote), expression=exp.null())),
                   group_by=[col(remote)])
    query.set("having", exp.Having(this=exp.GT(this=exp.Count(this=exp.Star()), expression=lit(1))))
    query.set("order", exp.Order(expressions=[exp.Ordered(this=col(remote), nulls_first=False)]))
    query.set("limit", exp.Limit(expression=lit(1)))  # the smallest duplicated key, the same every time
    try:
        _, rows = sources.connection(target.model.source).execute(dialect.generate(query, pretty=False))
    except SourceError as exc:
        return [exc]
    if not rows:
        return []
    return [DefinitionError(
        f"join '{alias_name}' of dataset '{dataset}' is not many-to-one: {remote} = {rows[0][0]!r} appears "
        f"more than once in dataset '{join.dataset}', so joined rows would be counted twice",
        span=entry.span("joins", alias_name, "on"), code="join-not-unique")]
