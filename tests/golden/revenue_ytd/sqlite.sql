-- test_golden.py::test_golden_sql[revenue_ytd-sqlite]: to_date(revenue, year) by day in March: daily revenue summed from 1 January, restarting each year
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(JULIANDAY(DATE(orders.ordered_at)) - 2415020.5 AS INTEGER) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2024-12-31'
    AND orders.ordered_at < '2025-04-02'
    AND orders.status = 'paid'
  GROUP BY
    CAST(JULIANDAY(DATE(orders.ordered_at)) - 2415020.5 AS INTEGER)
), kpi_periods AS (
  SELECT
    45656 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 45745
), kpi_vd AS (
  SELECT
    kpi_periods.p,
    COALESCE(kpi_s1.m1_1, 0) AS m1_1
  FROM kpi_periods
  LEFT JOIN kpi_s1
    ON kpi_s1.p = kpi_periods.p
), kpi_wd AS (
  SELECT
    kpi_vd.p,
    SUM(kpi_vd.m1_1) OVER (
      PARTITION BY CAST(STRFTIME('%Y', DATE('1900-01-01', '+' || CAST(kpi_vd.p AS TEXT) || ' days')) AS INTEGER)
      ORDER BY kpi_vd.p
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS w1_d
  FROM kpi_vd
)
SELECT
  DATE('1900-01-01', '+' || CAST(kpi_wd.p AS TEXT) || ' days') AS period,
  kpi_wd.w1_d AS revenue_ytd
FROM kpi_wd
WHERE
  kpi_wd.p BETWEEN 45715 AND 45745
ORDER BY
  kpi_wd.p NULLS LAST
