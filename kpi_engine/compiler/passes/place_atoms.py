"""Pass: where each aggregate (atom) is computed, and how its value is read.

- combinable aggregates (count, sum, avg, min, max) and, without a window, count_distinct and
  native percentiles are *flows*: measures of the scan of their dataset and time column, so a
  batch of KPIs reads each dataset once; avg under a window or rolled up for total() is a sum
  and a count, combined after;
- count, sum and avg of a stock (``at=``) are running sums of the changes of a *stock* scan;
- the rest (distinct counts, medians and percentiles under a window, other stock aggregates)
  are *range* aggregates: computed per spine period from the rows it reads;
- ``previous()`` is a shift of the unshifted value, read n periods earlier (or, for a month, quarter
  or year back at day and week grains, in the period holding the day that many months back).

Scans are shared by every atom of the same dataset, time column and level; measures are shared
by atoms that compute the same thing. CTE and column names follow the order atoms are met.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from ...formulas.binder import Atom
from .. import periods as P
from ..conditions import and_nodes
from ..plan import COMBINABLE, FlowScan, LevelPlan, Measure, Plan, RangeAggregate, Shift, StockMeasure, StockScan, Value
from .context import CompileContext, scan_key, shift_moves

__all__ = ["place_atoms"]


def place_atoms(plan: Plan, ctx: CompileContext) -> Plan:
    placer = _Placer(plan, ctx)
    for atom in plan.atoms:
        placer.place(atom)
    return placer.finished()


class _Level:
    def __init__(self, level: LevelPlan) -> None:
        self.key, self.dims = level.key, level.dims
        self.columns: dict[Atom, str] = {}
        self.values: list[Value] = []
        self.shifts: list[Shift] = []


class _Placer:
    """The pass's own working state: dictionaries filled atom by atom, frozen into the plan at the end."""

    def __init__(self, plan: Plan, ctx: CompileContext) -> None:
        self.plan, self.ctx = plan, ctx
        self.levels = {level.key: _Level(level) for level in plan.levels}
        self.scans: dict[tuple, dict] = {}
        self.stocks: dict[tuple, dict] = {}
        self.ranges: dict[tuple, RangeAggregate] = {}
        self.counter = 0
        self.max_shift = 0

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"kpi_{prefix}{self.counter}"

    def place(self, atom: Atom) -> None:
        level = self.levels["t" if atom.total else "d"]
        base = dataclasses.replace(atom, shift=())
        if base not in level.columns:
            level.columns[base] = self.value(base, level)
        if atom.shift:
            moves = shift_moves(atom, self.plan)
            self.max_shift = max(self.max_shift, P.reach(moves, self.plan.grain))
            column = f"x{len(level.shifts) + 1}_{level.key}"
            lag = moves[0][1] if len(moves) == 1 and moves[0][0] == "periods" else 0
            level.shifts.append(Shift(column, level.columns[base], lag, () if lag else moves))
            level.columns[atom] = column

    def value(self, atom: Atom, level: _Level) -> str:
        """Plan how an unshifted atom is computed; return its column in the W layer."""
        column = f"w{len(level.values) + 1}_{level.key}"
        func = atom.func
        if atom.at is not None:
            value = self.stock(atom, level, column) if func in ("count", "sum", "avg") else self.range(atom, level, column)
        elif func in COMBINABLE or (atom.window is None and (func == "count_distinct"
                                                                or self.ctx.dialect.native_percentile)):
            value = self.flow(atom, level, column)
        else:
            value = self.range(atom, level, column)
        level.values.append(value)
        return column

    def flow(self, atom: Atom, level: _Level, column: str) -> Value:
        key = scan_key(atom, level.key, self.ctx.catalog)
        if key not in self.scans:
            self.scans[key] = {"cte": self.name("s"), "dataset": key[0], "time": key[1], "level": key[2],
                               "measures": {}, "filters": [], "dims_filters": [], "unbounded": False, "rollup": []}
        scan = self.scans[key]
        scan["filters"].append(atom.kpi_filter)
        if level.key == "d":
            scan["dims_filters"].append(atom.kpi_filter)
        if atom.window is not None and atom.window.kind == "cumulative":
            scan["unbounded"] = True
        func = "percentile" if atom.func == "median" else atom.func
        fraction = Decimal("0.5") if atom.func == "median" else atom.fraction
        condition = and_nodes(atom.condition, atom.kpi_filter)

        def measure(name: str) -> str:
            measures = scan["measures"]
            mkey = (name, atom.arg, condition, fraction)
            if mkey not in measures:
                measures[mkey] = Measure(f"m{scan['cte'][5:]}_{len(measures) + 1}", name, atom.arg, condition, fraction)
            return measures[mkey].name

        if func == "avg" and (atom.window is not None or scan["level"] != level.key):
            parts = (measure("sum"), measure("count"))  # windows and roll-ups combine sums and counts
        else:
            parts = (measure(func),)
        if scan["level"] != level.key:
            scan["rollup"].extend(p for p in parts if p not in scan["rollup"])
        return Value(column, "flow", parts, atom.func, window=atom.window)

    def stock(self, atom: Atom, level: _Level, column: str) -> Value:
        key = (atom.dataset, level.key)
        if key not in self.stocks:
            self.stocks[key] = {"cte": self.name("k"), "dataset": atom.dataset, "level": level.key,
                                "measures": {}, "filters": []}
        stock = self.stocks[key]
        stock["filters"].append(atom.kpi_filter)
        condition = and_nodes(atom.condition, atom.kpi_filter)

        def measure(func: str) -> str:
            measures = stock["measures"]
            mkey = (func, atom.arg, condition)
            if mkey not in measures:
                measures[mkey] = StockMeasure(f"kd{stock['cte'][5:]}_{len(measures) + 1}", func, atom.arg, condition)
            return measures[mkey].name

        parts = (measure("sum"), measure("count")) if atom.func == "avg" else (measure(atom.func),)
        return Value(column, "stock", parts, atom.func, at=atom.at)

    def range(self, atom: Atom, level: _Level, column: str) -> Value:
        key = (atom, level.key)
        if key not in self.ranges:
            self.ranges[key] = RangeAggregate(self.name("r"), atom, level.key)
        return Value(column, "range", (f"{self.ranges[key].cte}_value",), atom.func, window=atom.window, at=atom.at)

    def finished(self) -> Plan:
        scans = tuple(FlowScan(s["cte"], s["dataset"], s["time"], s["level"], tuple(s["measures"].values()),
                               tuple(s["filters"]), tuple(s["dims_filters"]), unbounded=s["unbounded"],
                               rollup=tuple(s["rollup"])) for s in self.scans.values())
        stocks = tuple(StockScan(s["cte"], s["dataset"], s["level"], tuple(s["measures"].values()),
                                 tuple(s["filters"])) for s in self.stocks.values())
        levels = tuple(LevelPlan(level.key, level.dims, tuple(level.columns.items()), tuple(level.values),
                                 tuple(level.shifts)) for level in self.levels.values())
        bounds = dataclasses.replace(self.plan.bounds, max_shift=self.max_shift)
        return dataclasses.replace(self.plan, levels=levels, scans=scans, stocks=stocks,
                                   ranges=tuple(self.ranges.values()), bounds=bounds)
