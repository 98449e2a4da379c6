-- test_golden.py::test_golden_sql[monthly_sales_growth-duckdb]: growth(revenue) by month: the month before the range read too, compared with LAG
WITH kpi_s1 AS (
  SELECT
    YEAR(orders.ordered_at) * 12 + MONTH(orders.ordered_at) - 1 AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2024-12-01'
    AND orders.ordered_at < '2025-04-01'
    AND orders.status = 'paid'
  GROUP BY
    YEAR(orders.ordered_at) * 12 + MONTH(orders.ordered_at) - 1
), kpi_periods AS (
  SELECT
    g.p
  FROM GENERATE_SERIES(24299, 24302) AS g(p)
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
  CAST(CAST('1900-01-01' AS DATE) + TO_MONTHS(CAST(kpi_xd.p - 22800 AS INT)) AS DATE) AS period,
  CAST(kpi_xd.w1_d - kpi_xd.x1_d AS DOUBLE) / NULLIF(kpi_xd.x1_d, 0) AS monthly_sales_growth
FROM kpi_xd
WHERE
  kpi_xd.p BETWEEN 24300 AND 24302
ORDER BY
  kpi_xd.p
