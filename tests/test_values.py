"""The same values on every engine: round, percentiles of decimals, booleans.

Expected values come from Python's exact decimal arithmetic, not from any engine:
``round`` rounds the binary double half away from zero (``Decimal(float)`` is the double's exact
value), and a continuous percentile interpolates between the two nearest values.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

import pytest

from support.engines import EXECUTED as ENGINES

DIGITS = (0, 1, 2, 3, -1, -2)

TIES = [42.025, 1.025, 0.125, -0.125, 2.5, -2.5, 0.5, -0.5, 1.005, 1.015, 2.675, 0.285, -1.005, 1234.5678,
        123456789.125, 1e20, -1e20, 0.0, 0.49999999999999994, 1.45, 1.55, 99.995, 15.0, 25.0, -35.0, 150.0,
        1e-7, 4503599627370.4955, 0.045, 10.5, 0.05]


def _values() -> list[float]:
    rng = random.Random(20261203)
    # thousandths hit exact-looking ties (x.xx5) at 2 digits, whose doubles lie on either side
    values = TIES + [rng.randint(-200000, 200000) / 1000 for _ in range(150)]
    return values + [rng.uniform(-1e6, 1e6) for _ in range(30)]


def expected_round(x: float, digits: int) -> float:
    return float(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _name(digits: int) -> str:
    return f"r{digits}" if digits >= 0 else f"r_minus{-digits}"


ROUND_DEFINITIONS = """
datasets:
  nums:
    table: nums
    dimensions:
      row: row_id
kpis:
""" + "".join(f"  {_name(n)}: {{dataset: nums, formula: 'sum(round(x, {n}))'}}\n" for n in DIGITS) + """\
  r_default: {dataset: nums, formula: 'sum(round(x))'}
  r_int: {dataset: nums, formula: 'sum(round(n, 1))'}
  r_top: {dataset: nums, formula: 'round(max(x) / 1000, 2)'}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_round_is_the_binary_double_half_away_from_zero(make_project, engine):
    values = _values()
    rows = [(i, x, i % 7) for i, x in enumerate(values)]
    project = make_project(ROUND_DEFINITIONS, {"nums": (["row_id", "x", "n"], rows)}, engine=engine)
    names = [_name(n) for n in DIGITS] + ["r_default", "r_int"]
    result = project.query(names, grain="all", by=["row"])
    assert len(result.rows) == len(values)
    wrong = []
    for row_id, *got in result.rows:
        x = values[row_id]
        want = [expected_round(x, n) for n in DIGITS] + [expected_round(x, 0), float(row_id % 7)]
        for name, g, w in zip(names, got, want):
            if g != w:
                wrong.append(f"{name} of {x!r}: got {g!r}, want {w!r}")
    assert not wrong, "\n".join(wrong[:20])
    assert expected_round(42.025, 2) == 42.02  # the rule's own example: 42.025 is 42.02499... as a double
    # at the top level too, over an aggregate: the largest value (1e20) / 1000
    assert project.query(["r_top"], grain="all").rows == [(expected_round(max(values) / 1000, 2),)]


@pytest.mark.parametrize("engine", ENGINES)
def test_round_digits_are_a_whole_number_in_the_formula(make_project, engine):
    import kpi_engine

    definitions = ROUND_DEFINITIONS + "  bad: {dataset: nums, formula: 'sum(round(x, n))'}\n"
    with pytest.raises(kpi_engine.KpiError) as caught:
        make_project(definitions, {"nums": (["row_id", "x", "n"], [(1, 1.5, 2)])}, engine=engine)
    assert "round() takes its digits as a whole number from -15 to 15" in caught.value.message
    assert caught.value.column == definitions.splitlines()[-1].index("n))") + 1  # the digits argument


PERCENTILE_DEFINITIONS = """
datasets:
  prices:
    sql: select cast(price as decimal(10, 2)) as price, grp from prices_raw
    dimensions:
      grp: grp
kpis:
  med: {dataset: prices, formula: median(price)}
  p25: {dataset: prices, formula: 'percentile(price, 0.25)'}
  p90: {dataset: prices, formula: 'percentile(price, 0.9)'}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_percentiles_of_a_decimal_column_are_interpolated_as_doubles(make_project, engine):
    rows = [(Decimal("1.01"), "a"), (Decimal("1.02"), "a"), (Decimal("1.01"), "b"), (Decimal("1.02"), "b"),
            (Decimal("1.04"), "b")]
    project = make_project(PERCENTILE_DEFINITIONS, {"prices_raw": (["price", "grp"], rows)}, engine=engine)
    result = project.query(["med", "p25", "p90"], grain="all", by=["grp"])
    # a: 1.01, 1.02 -> median halfway 1.015; p25 at 0.25 of the way 1.0125; p90 1.019
    # b: 1.01, 1.02, 1.04 -> positions 0..2: median 1.02; p25 at 0.5 -> 1.015; p90 at 1.8 -> 1.02 + 0.8 * 0.02
    expected = [("a", 1.015, 1.0125, 1.019), ("b", 1.02, 1.015, 1.036)]
    assert [(g, *(pytest.approx(v, abs=1e-12) for v in vals)) for g, *vals in result.rows] == expected
    assert all(isinstance(v, float) for row in result.rows for v in row[1:])


BOOLEAN_DEFINITIONS = """
datasets:
  orders:
    table: orders
    dimensions:
      vip: is_vip
      big: amount > 10
      flagged: "if(amount > 100, true, is_vip)"
      label: "if(is_vip, 'vip', 'regular')"
kpis:
  n: {dataset: orders, formula: count()}
  many: {dataset: orders, formula: count() > 1}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_booleans_are_true_and_false_on_every_engine(make_project, engine):
    orders = (["order_id", "amount", "is_vip"], [(1, 5, True), (2, 20, False), (3, 30, False), (4, 200, False)])
    project = make_project(BOOLEAN_DEFINITIONS, {"orders": orders}, engine=engine)
    # vip: order 1 | not: 2, 3, 4.  big (> 10): 2, 3, 4 | not: 1.  flagged: 4 (> 100) or vip: 1, 4
    result = project.query(["n", "many"], grain="all", by=["vip", "big"])
    assert result.rows == [(False, True, 3, True), (True, False, 1, False)]
    assert [tuple(type(v) for v in row) for row in result.rows] == [(bool, bool, int, bool)] * 2
    result = project.query(["n"], grain="all", by=["flagged", "label"])
    assert result.rows == [(False, "regular", 2), (True, "regular", 1), (True, "vip", 1)]
    assert all(type(row[0]) is bool for row in result.rows)
    assert project.query(["n"], grain="all", where="vip = true").rows == [(1,)]
