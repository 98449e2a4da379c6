"""What the renderers share: the finished plan, the target dialect, and the small SQL pieces every
part of the query is written with (a dataset and its joins, its row expressions, the query's
--where on it, the rows a scan reads, windows over the spine)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from ...formulas import syntax as f
from ...formulas.binder import Window, rebuild
from .. import periods as P
from .. import sql
from ..passes.context import CompileContext
from ..plan import LevelPlan, Plan
from ..sql import alias, col, lit, not_null, table_ref
from ..translate import Translator

__all__ = ["RenderContext", "Source"]


@dataclass(slots=True)
class Source:
    """A CTE joined into a level's values table on (p, dims)."""

    cte: str
    columns: list[tuple[str, bool]]  # (name, 0 when the period has no rows)
    raw: bool  # its p are periods of data: they decide a missing --from/--to
    unbounded: bool = False  # reads rows before the spine would otherwise start
    combos: exp.Expression | None = None  # dimension values it reads in the reported periods


@dataclass(slots=True)
class RenderContext:
    plan: Plan
    compile: CompileContext
    #: level key -> the CTEs its values table joins, filled by the scan and range renderers
    sources: dict[str, list[Source]] = field(default_factory=dict)
    #: (CTE, column, reads every earlier row): CTEs whose periods hold data, for a missing --from/--to
    raw: list[tuple[str, str, bool]] = field(default_factory=list)
    #: the periods are a recursive CTE (engines without a series function): WITH RECURSIVE
    recursive: bool = False
    #: a level's values SELECT that the final SELECT takes over (no CTE), and its columns' expressions
    merged: dict[str, tuple[exp.Select, dict[str, exp.Expression]]] = field(default_factory=dict)

    @property
    def d(self):
        return self.compile.dialect

    @property
    def catalog(self):
        return self.compile.catalog

    def add_source(self, level: str, source: Source) -> None:
        self.sources.setdefault(level, []).append(source)

    # -- bounds ------------------------------------------------------------------
    def bound(self, name: str) -> exp.Expression:
        """lo, hi, spine_lo or spine_hi: a literal when both dates are given and no history is read."""
        bounds = self.plan.bounds
        if bounds.literal:
            value = {"lo": bounds.lo, "hi": bounds.hi, "spine_lo": bounds.spine_lower, "spine_hi": bounds.hi}[name]
            return lit(value)
        return col(name, "kpi_bounds")

    def bounds_join(self) -> list[exp.Join]:
        return [] if self.plan.bounds.literal else [sql.join(table_ref("kpi_bounds"), None, kind="CROSS")]

    # -- datasets and rows ---------------------------------------------------------
    def from_(self, dataset: str, used: Sequence[f.Node | None]) -> tuple[exp.Expression, list[exp.Join]]:
        """The dataset aliased by its name, LEFT JOIN every join the expressions read."""
        entry = self.catalog.datasets[dataset]
        base = self.relation(dataset, dataset)
        aliases = sorted({n.qualifier for node in used if node is not None for n in f.walk(node)
                          if isinstance(n, f.Ref) and n.qualifier is not None})
        joins = []
        for name in aliases:
            join = entry.model.joins[name]
            local, remote = join.columns
            right = self.relation(join.dataset, name)
            joins.append(sql.join(right, exp.EQ(this=col(local, dataset), expression=col(remote, name)), kind="LEFT"))
        return base, joins

    def relation(self, dataset: str, name: str) -> exp.Expression:
        relation = self.compile.relation(self.catalog.datasets[dataset], self.d)
        if not isinstance(relation, (exp.Table, exp.Query)):
            relation = exp.Table(this=relation)  # a table function (a plugin's file reader) is a relation
        if isinstance(relation, exp.Table):
            relation = relation.copy()
            relation.set("alias", exp.TableAlias(this=sql.ident(name)))
            return relation
        return sql.subquery(relation, name)

    def row(self, dataset: str) -> Translator:
        return Translator(self.d, self.catalog.functions, column=lambda ref: col(ref.name, ref.qualifier or dataset))

    def dims(self, dataset: str, dims: Sequence[str]) -> list[f.Node]:
        return [self.compile.binder.dimension(dataset, d) for d in dims]

    def where(self, dataset: str) -> f.Node | None:
        """--where with each dimension replaced by its expression on this dataset."""
        if self.plan.where is None:
            return None
        binder = self.compile.binder

        def substitute(node: f.Node) -> f.Node:
            if isinstance(node, f.Ref):
                return binder.dimension(dataset, node.name)
            return rebuild(node, substitute)

        return substitute(self.plan.where)

    def time_range(self, time_col: exp.Expression, lower: int | None, unbounded: bool) -> list[exp.Expression]:
        """Rows with a time, inside the periods a scan must read (a range excludes nulls by itself)."""
        q, d, bounds = self.plan.query, self.d, self.plan.bounds
        conds: list[exp.Expression] = []
        first: dt.date | None = None
        after: dt.date | None = None  # the first day after the rows read
        if self.plan.all:
            first = q.start
            after = P.day_after(q.end) if q.end else None
        else:
            if lower is not None and not unbounded:
                first = P.start_date_or_none(lower, self.plan.grain)  # None: before 0001-01-01, nothing is earlier
            if bounds.hi is not None:
                after = P.start_date_or_none(bounds.hi + 1, self.plan.grain)  # None: after 9999-12-31
        if first is not None:
            conds.append(exp.GTE(this=time_col.copy(), expression=d.time_literal(first)))
        if after is not None:
            conds.append(exp.LT(this=time_col.copy(), expression=d.time_literal(after)))
        return conds or [not_null(time_col)]

    def group_columns(self, dataset: str, dims: Sequence[str], tr: Translator,
                      p: exp.Expression | None) -> tuple[list[exp.Expression], list[exp.Expression]]:
        """(SELECT columns, GROUP BY expressions) of a scan: its period index p and its dimensions."""
        columns = [alias(p if p is not None else lit(0), "p")]
        group = [p.copy()] if p is not None else []
        for name, node in zip(dims, self.dims(dataset, dims)):
            expr = tr(node)
            columns.append(alias(expr, f"d_{name}"))
            group.append(expr.copy())
        return columns, group

    def v_column(self, level: LevelPlan, name: str) -> exp.Expression:
        """A column of a level's values: of its CTE, or the expression itself when the final SELECT took it over."""
        merged = self.merged.get(level.key)
        return merged[1][name].copy() if merged else col(name, level.v)

    # -- windows over the spine -----------------------------------------------------
    def over(self, agg: exp.Expression, level: LevelPlan, window: Window | None) -> exp.Expression:
        """``agg OVER (PARTITION BY dims ORDER BY p ROWS ...)`` on the dense spine."""
        partition = [col(f"d_{d}", level.v) for d in level.dims]
        start: exp.Expression | str = "UNBOUNDED"
        if window is not None and window.kind == "rolling":
            start = lit(window.periods - 1)
        if window is not None and window.kind == "to_date":
            partition.append(self.group_key(col("p", level.v), window.grain))
        spec = exp.WindowSpec(kind="ROWS", start=start, start_side="PRECEDING", end="CURRENT ROW")
        return exp.Window(this=agg, partition_by=partition or None, order=self.by_period(level.v),
                          spec=spec, over="OVER")

    def by_period(self, table: str) -> exp.Order:
        """ORDER BY p in a window; p is never null, so the dialect's own null ordering is used."""
        return exp.Order(expressions=[exp.Ordered(this=col("p", table), nulls_first=self.d.nulls_first_by_default)])

    def group_key(self, p: exp.Expression, group: str) -> exp.Expression:
        """The index of the to_date() group (week, month, quarter, year) holding period p."""
        grain, d = self.plan.grain, self.d
        if grain == group:
            return p
        if grain == "day" and group == "week":
            return d.int_div(p, 7)
        if grain == "month":
            return d.int_div(p, 3 if group == "quarter" else 12)
        if grain == "quarter":
            return d.int_div(p, 4)
        # day → month, quarter or year: through the calendar date of the day
        return d.period_index(d.period_date(p, "day"), group)
