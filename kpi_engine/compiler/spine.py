"""The time spine: the reported periods, the periods windows read, and the dimension values seen."""

from __future__ import annotations


from sqlglot import exp

from . import sql
from .plan import (
    Level,
    smaller,
)
from .sql import alias, col, lit, table_ref

__all__ = ["Spine"]


class Spine:
    """Writes kpi_bounds, kpi_periods and kpi_combos. A mixin of the query build (``build._Build``)."""

    def _emit_bounds(self) -> None:
        """lo..hi: the reported periods; spine_lo..spine_hi: every period a window or previous() reads."""
        if self.literal_bounds:
            return  # every bound is a literal, written where it is used

        def union(items: list[tuple[str, str, bool]]) -> exp.Expression:
            parts = [sql.select([alias(col(column), "p")], table_ref(cte)) for cte, column, _ in items]
            out: exp.Expression = parts[0]
            for part in parts[1:]:
                out = exp.Union(this=out, expression=part, distinct=False)
            return out

        needs_data = self.lo_lit is None or self.hi_lit is None
        lo = lit(self.lo_lit) if self.lo_lit is not None else exp.Min(this=col("p"))
        hi = lit(self.hi_lit) if self.hi_lit is not None else exp.Max(this=col("p"))
        if self.lo_lit is None:
            # nothing is earlier than the earliest data, but previous() reads the (empty) periods before it
            spine_lo: exp.Expression = exp.Min(this=col("p"))
            if self.max_shift:
                spine_lo = sql.binary(exp.Sub, spine_lo, lit(self.max_shift))
        else:
            spine_lo = lit(self.spine_lower if self.spine_lower is not None else self.lo_lit)
            unbounded = [item for item in self.raw if item[2]]
            if unbounded:  # cumulative() and stocks read from the first period of data on
                earliest = exp.Subquery(this=sql.select([exp.Min(this=col("p"))],
                                                        sql.subquery(union(unbounded), "kpi_early")))
                spine_lo = smaller(earliest, spine_lo)
        spine_hi = hi.copy()
        from_ = sql.subquery(union(self.raw), "kpi_all") if needs_data and self.raw else None
        self.cte("kpi_bounds", sql.select([alias(lo, "lo"), alias(hi, "hi"), alias(spine_lo, "spine_lo"),
                                           alias(spine_hi, "spine_hi")], from_))

    def _emit_periods(self) -> None:
        bounds = None if self.literal_bounds else "kpi_bounds"
        low, high = self.bound("spine_lo"), self.bound("spine_hi")
        if self.all:
            body = sql.select([alias(lit(0), "p")])
        elif self.d.uses_recursive_series:
            self.recursive = True
            body = self.d.recursive_series(low, high, bounds, "kpi_periods")
        else:
            body = self.d.series(low if bounds is None else col("spine_lo"),
                                 high if bounds is None else col("spine_hi"), bounds)
        self.cte("kpi_periods", body)

    def _emit_combos(self, level: Level) -> None:
        dim_cols = [col(f"d_{d}") for d in level.dims]
        parts: list[exp.Expression] = []
        for source in level.sources:
            if source.combos is not None:
                parts.append(source.combos)
            elif source.raw:
                in_range = exp.Between(this=col("p", source.cte), low=self.bound("lo"),
                                       high=self.bound("hi"))
                parts.append(sql.select([c.copy() for c in dim_cols], table_ref(source.cte),
                                        joins=self.bounds_join(),
                                        where=in_range))
        if parts:
            union = parts[0]
            for part in parts[1:]:
                union = exp.Union(this=union, expression=part, distinct=False)
            combos = sql.select([c.copy() for c in dim_cols], sql.subquery(union, "kpi_seen"), distinct=True)
        else:
            combos = sql.select([alias(exp.null(), f"d_{d}") for d in level.dims], where=exp.false())
        self.cte("kpi_combos", combos)
