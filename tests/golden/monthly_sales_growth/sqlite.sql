-- test_golden.py::test_golden_sql[monthly_sales_growth-sqlite]: growth(revenue) by month: the month before the range read too, compared with LAG
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(STRFTIME('%Y', orders.ordered_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', orders.ordered_at) AS INTEGER) - 1 AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2024-11-30'
    AND orders.ordered_at < '2025-04-02'
    AND orders.status = 'paid'
  GROUP BY
    CAST(STRFTIME('%Y', orders.ordered_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', orders.ordered_at) AS INTEGER) - 1
), kpi_periods AS (
  SELECT
    24299 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 24302
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
    kpi_vd.m1_1 AS w1_d
  FROM kpi_vd
), kpi_xd AS (
  SELECT
    kpi_wd.p,
    kpi_wd.w1_d,
    LAG(kpi_wd.w1_d, 1) OVER (ORDER BY kpi_wd.p) AS x1_d
  FROM kpi_wd
)
SELECT
  PRINTF('%04d-%02d-01', kpi_xd.p / 12, (
    kpi_xd.p % 12
  ) + 1) AS period,
  CAST(kpi_xd.w1_d - kpi_xd.x1_d AS REAL) / NULLIF(kpi_xd.x1_d, 0) AS monthly_sales_growth
FROM kpi_xd
WHERE
  kpi_xd.p BETWEEN 24300 AND 24302
ORDER BY
  kpi_xd.p NULLS LAST
