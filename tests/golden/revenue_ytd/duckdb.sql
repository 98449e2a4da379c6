-- test_golden.py::test_golden_sql[revenue_ytd-duckdb]: to_date(revenue, year) by day in March: daily revenue summed from 1 January, restarting each year
WITH kpi_s1 AS (
  SELECT
    CAST(orders.ordered_at AS DATE) - CAST('1900-01-01' AS DATE) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2025-01-01'
    AND orders.ordered_at < '2025-04-01'
    AND orders.status = 'paid'
  GROUP BY
    CAST(orders.ordered_at AS DATE) - CAST('1900-01-01' AS DATE)
), kpi_periods AS (
  SELECT
    g.p
  FROM GENERATE_SERIES(45656, 45745) AS g(p)
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
      PARTITION BY YEAR(CAST('1900-01-01' AS DATE) + CAST(kpi_vd.p AS INT))
      ORDER BY kpi_vd.p
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS w1_d
  FROM kpi_vd
)
SELECT
  CAST('1900-01-01' AS DATE) + CAST(kpi_wd.p AS INT) AS period,
  kpi_wd.w1_d AS revenue_ytd
FROM kpi_wd
WHERE
  kpi_wd.p BETWEEN 45715 AND 45745
ORDER BY
  kpi_wd.p
