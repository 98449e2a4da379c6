"""The plan of a query, looked at without rendering any SQL: one test per pass.

The project: tickets (time created_at, also placed by resolved_at), customers (active from
signup_at to churned_at). Every expectation is read off the definitions below by hand.
"""

from __future__ import annotations

import dataclasses

import pytest

import kpi_engine
from kpi_engine.compiler import Query, QueryCompiler, dialect_for
from kpi_engine.compiler.passes import PASSES, build_plan
from kpi_engine.compiler.passes.check_grain import check_grain
from kpi_engine.compiler.passes.index_periods import index_periods
from kpi_engine.compiler.passes.literal_bounds import literal_bounds
from kpi_engine.compiler.passes.place_atoms import place_atoms
from kpi_engine.compiler.passes.resolve_kpis import resolve_kpis
from kpi_engine.compiler.passes.running_sums import clamp_running_sums
from kpi_engine.compiler.passes.widen import widen
from kpi_engine.compiler.plan import Plan

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions: {channel: channel}
  customers:
    table: customers
    time: signup_at
    active: {from: signup_at, to: churned_at}
    dimensions: {channel: channel}
kpis:
  volume: {dataset: tickets, formula: count(), filter: not is_spam}
  solved: {dataset: tickets, formula: "count(*, time=resolved_at)", filter: not is_spam}
  aht: {dataset: tickets, formula: avg(handle), filter: not is_spam}
  solved_share: {dataset: tickets, formula: "count(where status = 'solved') / count()", filter: not is_spam}
  share: {dataset: tickets, formula: count() / total(count()), filter: not is_spam}
  aht_3m: {formula: "rolling(aht, 3)"}
  volume_before: {formula: "previous(volume, 2)"}
  customers_seen: {dataset: tickets, formula: count_distinct(customer_id)}
  seen_3m: {formula: "rolling(customers_seen, 3)"}
  active: {dataset: customers, formula: "count(*, at=start)"}
  churned: {dataset: customers, formula: "count(*, time=churned_at)"}
  churn_rate: {formula: churned / active}
  running: {formula: cumulative(volume)}
"""


@pytest.fixture(scope="module")
def compiler(tmp_path_factory) -> QueryCompiler:
    root = tmp_path_factory.mktemp("plan")
    (root / "definitions").mkdir()
    (root / "definitions" / "a.yml").write_text(DEFINITIONS)
    (root / "kpi.yml").write_text("sources:\n  default: {connector: duckdb, database: ':memory:'}\n")
    project = kpi_engine.load(root)
    return QueryCompiler(project.catalog, project.binder, dialect_for("duckdb"), project.sources.relation)


def plan_of(compiler: QueryCompiler, kpis, **query) -> Plan:
    return compiler.plan(Query.create(kpis, **query))


JAN, MAR = "2025-01-01", "2025-03-31"
JAN_INDEX = 2025 * 12  # month indexes: year * 12 + month - 1


def test_the_passes_run_in_order(compiler):
    names = [step.__name__ for step in PASSES]
    assert names == ["resolve_kpis", "check_query", "bind_where", "check_grain", "index_periods", "place_atoms",
                     "widen", "clamp_running_sums", "fold_into_stocks", "literal_bounds"]
    query = Query.create(["volume"], start=JAN, end=MAR)
    assert build_plan(Plan(query), compiler.context) == compiler.plan(query)


def test_resolve_kpis_binds_formulas_and_lists_datasets(compiler):
    plan = resolve_kpis(Plan(Query.create(["churn_rate", "volume"])), compiler.context)
    assert [name for name, _ in plan.metrics] == ["churn_rate", "volume"]
    assert plan.datasets == ("customers", "tickets")


def test_check_grain_refuses_windows_at_grain_all(compiler):
    plan = resolve_kpis(Plan(Query.create(["aht_3m"], grain="all")), compiler.context)
    with pytest.raises(kpi_engine.QueryError, match="rolling.*needs a grain other than 'all'"):
        check_grain(plan, compiler.context)


def test_a_batch_of_kpis_of_one_dataset_and_time_column_is_one_scan(compiler):
    plan = plan_of(compiler, ["volume", "aht", "solved_share", "solved"], start=JAN, end=MAR)
    # created_at: volume, aht, solved_share (count() shared with volume); resolved_at: solved
    assert [(s.dataset, s.time, s.level) for s in plan.scans] == [
        ("tickets", "created_at", "d"), ("tickets", "resolved_at", "d")]
    created = plan.scans[0]
    assert [(m.func, m.arg is not None, m.condition is not None) for m in created.measures] == [
        ("count", False, True),  # count() under the filter
        ("avg", True, True),  # avg(handle)
        ("count", False, True),  # count(where status = 'solved') under the filter
    ]
    assert not plan.stocks and not plan.ranges


def test_place_atoms_kinds_of_values(compiler):
    plan = plan_of(compiler, ["aht_3m", "seen_3m", "active", "volume_before"], start=JAN, end=MAR)
    level = plan.level("d")
    kinds = {value.column: (value.kind, value.func, value.window.kind if value.window else None)
             for value in level.values}
    assert sorted(kinds.values()) == sorted([
        ("flow", "avg", "rolling"),  # rolling avg: from sums and counts
        ("range", "count_distinct", "rolling"),  # distinct counts do not combine across periods
        ("stock", "count", None),
        ("flow", "count", None),  # previous() reads the unshifted count, shifted
    ])
    rolling_avg = next(v for v in level.values if v.func == "avg")
    assert len(rolling_avg.parts) == 2  # sum and count
    assert [(s.periods) for s in level.shifts] == [2]
    assert [(s.dataset, s.level) for s in plan.stocks] == [("customers", "d")]
    assert [r.atom.func for r in plan.ranges] == ["count_distinct"]


def test_total_rolls_up_the_dimensions_scan(compiler):
    plan = plan_of(compiler, ["share"], by=["channel"], start=JAN, end=MAR)
    assert [level.key for level in plan.levels] == ["d", "t"]
    assert len(plan.scans) == 1 and plan.scans[0].rollup == (plan.scans[0].measures[0].name,)


def test_widen_reaches_back_for_windows_and_shifts(compiler):
    before = place_atoms(index_periods(resolve_kpis(Plan(Query.create(
        ["aht_3m", "volume_before"], start=JAN, end=MAR)), compiler.context), compiler.context), compiler.context)
    assert before.scans[0].lower is None
    plan = widen(before, compiler.context)
    # rolling 3: January reads November and December; previous 2: November, which rolling covers
    assert plan.scans[0].lower == JAN_INDEX - 2
    assert plan.bounds.spine_lower == JAN_INDEX - 2


def test_running_sums_are_clamped_before_the_spine(compiler):
    plan = plan_of(compiler, ["running"], start=JAN, end=MAR)
    assert plan.scans[0].unbounded
    assert plan.bounds.clamp == JAN_INDEX - 1 == plan.bounds.spine_lower
    without = clamp_running_sums(dataclasses.replace(plan, bounds=dataclasses.replace(
        plan.bounds, clamp=None, spine_lower=JAN_INDEX)), compiler.context)
    assert without.bounds.clamp == JAN_INDEX - 1


def test_literal_bounds_only_with_both_dates_and_no_history(compiler):
    assert plan_of(compiler, ["volume"], start=JAN, end=MAR).bounds.literal
    assert not plan_of(compiler, ["volume"], start=JAN).bounds.literal
    stock = plan_of(compiler, ["active"], start=JAN, end=MAR)
    assert stock.bounds.literal  # a stock's history is clamped into one period: still literal
    assert not literal_bounds(dataclasses.replace(stock, bounds=dataclasses.replace(stock.bounds, lo=None)),
                              compiler.context).bounds.literal


def test_a_stock_and_the_flows_of_its_from_and_to_columns_read_the_dataset_once(compiler):
    plan = plan_of(compiler, ["churn_rate", "active", "volume"], start=JAN, end=MAR)
    # churned (time=churned_at, the stock's to column) is regrouped from the stock's read; tickets keep theirs
    assert [(s.dataset, s.time, s.folded_into is not None, s.side) for s in plan.scans] == [
        ("customers", "churned_at", True, "to"), ("tickets", "created_at", False, None)]
    assert plan.scans[0].folded_into == plan.stocks[0].cte
    assert plan.reads() == {"customers": 1, "tickets": 1}
