"""The checks of a query before any SQL is written: KPIs, dimensions, --where, grains, sources."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


from ..formulas import syntax as f
from ..formulas.binder import Atom, map_atoms
from ..errors import KpiError, QueryError, raise_all, unknown
from ..formulas.parser import parse_formula
from . import periods as P

__all__ = ["QueryChecks"]


class QueryChecks:
    """Checks on the query; every error names what to change. A mixin of the query build (``build._Build``)."""

    def _metrics(self) -> dict[str, f.Node]:
        metrics: dict[str, f.Node] = {}
        errors: list[KpiError] = []
        for name in self.q.kpis:
            if name not in self.catalog.kpis:
                errors.append(QueryError(unknown("KPI", name, self.catalog.kpis), code="unknown-kpi"))
                continue
            try:
                tree = self.binder.metric(name)
            except KpiError as exc:
                errors.append(exc)
                continue
            if not self.q.by:  # without dimensions, total(x) is x
                tree = map_atoms(tree, lambda a: dataclasses.replace(a, total=False))
            metrics[name] = tree
        raise_all(errors)
        return metrics

    def _check_names(self) -> None:
        for name in self.q.by:
            if name == "period":
                raise QueryError("'period' cannot be a --by dimension: it is the period column", code="bad-by")
            if name in self.q.kpis:
                raise QueryError(f"'{name}' is both a KPI and a --by dimension of this query", code="bad-by")

    def _check_sources(self, datasets: Sequence[str]) -> None:
        sources = {self.owner.source_name(ds) for ds in datasets}
        for ds in datasets:
            for join in self.catalog.datasets[ds].model.joins.values():
                sources.add(self.owner.source_name(join.dataset))
        if len(sources) > 1:
            raise QueryError(
                "this query reads datasets of several sources (" + ", ".join(sorted(sources))
                + "); one query runs on one source: query their KPIs separately",
                code="several-sources",
            )

    def _check_dimensions(self, datasets: Sequence[str]) -> None:
        errors: list[KpiError] = []
        for ds in datasets:
            entry = self.catalog.datasets[ds]
            for dim in self.q.by:
                if dim not in entry.model.dimensions:
                    errors.append(QueryError(
                        unknown("dimension", dim, entry.model.dimensions, where=f" on dataset '{ds}'")
                        + " (a --by dimension must be defined on every dataset the query reads)",
                        span=entry.name_span, code="unknown-dimension"))
                    continue
                try:
                    self.binder.dimension(ds, dim)
                except KpiError as exc:
                    errors.append(exc)
        raise_all(errors)

    def _bind_where(self, datasets: Sequence[str]) -> None:
        """Check --where: dimension names and row functions only."""
        if self.q.where is None:
            return
        text = f.FormulaText.standalone(self.q.where, "--where", label="--where condition", error_type=QueryError)
        node = parse_formula(text)
        known = sorted({d for ds in datasets for d in self.catalog.datasets[ds].model.dimensions})
        for item in f.walk(node):
            if isinstance(item, f.Ref):
                if item.qualifier is not None:
                    raise text.error(item, f"--where reads dimensions only, not '{item.dotted}'",
                                     hint="define it as a dimension of the dataset", code="bad-where")
                for ds in datasets:
                    if item.name not in self.catalog.datasets[ds].model.dimensions:
                        raise text.error(item, unknown("dimension", item.name, known, where=f" on dataset '{ds}'"),
                                         code="unknown-dimension")
            elif isinstance(item, f.Star):
                raise text.error(item, "'*' has no place in --where", code="bad-where")
            elif isinstance(item, f.Call):
                spec = self.catalog.functions.get(item.name)
                if spec is None:
                    raise text.error(item.name_span, unknown("function", item.name, self.catalog.functions),
                                     code="unknown-function")
                if spec.kind != "row":
                    raise text.error(item.name_span, f"{item.name}() is not allowed in --where: it filters "
                                     "rows by dimension values", code="bad-where")
                n = len(item.args)
                if n < spec.min_args or (spec.max_args is not None and n > spec.max_args) or item.named:
                    raise text.error(item, spec.arity_message(), code="arity")
                if item.where is not None:
                    raise text.error(item.where, "'where' only goes inside an aggregate", code="bad-where")
                problem = spec.check(item) if spec.check is not None else None
                if problem is not None:
                    raise text.error(problem[0], problem[1], code="bad-argument")
        self.where_node = node

    def _check_atoms(self, atoms: Sequence[Atom]) -> None:
        errors: list[KpiError] = []
        for atom in dict.fromkeys(atoms):
            entry = self.catalog.datasets[atom.dataset]
            if self.all and (atom.shift or atom.window):
                what = "previous()" if atom.shift else atom.window.describe()
                errors.append(QueryError(f"{what} compares periods; it needs a grain other than 'all'",
                                         code="bad-grain"))
            elif self.all and atom.at:
                errors.append(QueryError(f"at={atom.at} reads the rows active at the start or end of each "
                                         "period; it needs a grain other than 'all'", code="bad-grain"))
            elif atom.window and atom.window.kind == "to_date" and atom.window.grain not in P.CONTAINS[self.grain]:
                errors.append(QueryError(f"to_date(..., {atom.window.grain}) needs periods that fit in a "
                                         f"{atom.window.grain}; --grain {self.grain} periods do not",
                                         code="bad-grain"))
            elif not self.all and atom.at is None and (atom.time or entry.model.time) is None:
                errors.append(QueryError(
                    f"dataset '{atom.dataset}' has no time column, so its rows fall in no period",
                    span=entry.name_span, hint="add 'time: <column>' to the dataset, or query with --grain all",
                    code="no-time"))
        raise_all(list(dict.fromkeys(errors)))

    # ============================================================ planning
