-- test_golden.py::test_golden_sql[revenue_same_day_last_year-postgres]: previous(revenue, 1, year) by day: a year back is 365 or 366 days, so each day joins the day with its date a year earlier (28 February for the 29th) rather than a LAG
WITH kpi_s1 AS (
  SELECT
    CAST(orders.ordered_at AS DATE) - CAST('1900-01-01' AS DATE) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2023-02-27'
    AND orders.ordered_at < '2024-03-02'
    AND orders.status = 'paid'
  GROUP BY
    CAST(orders.ordered_at AS DATE) - CAST('1900-01-01' AS DATE)
), kpi_periods AS (
  SELECT
    GENERATE_SERIES(44982, 45350) AS p
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
    kpi_y1d.w1_d AS x1_d
  FROM kpi_wd
  LEFT JOIN kpi_wd AS kpi_y1d
    ON kpi_y1d.p = CAST(CAST('1900-01-01' AS DATE) + CAST(kpi_wd.p AS INT) + INTERVAL '-12 MONTH' AS DATE) - CAST('1900-01-01' AS DATE)
)
SELECT
  CAST('1900-01-01' AS DATE) + CAST(kpi_xd.p AS INT) AS period,
  kpi_xd.w1_d AS revenue,
  kpi_xd.x1_d AS revenue_same_day_last_year
FROM kpi_xd
WHERE
  kpi_xd.p BETWEEN 45347 AND 45350
ORDER BY
  kpi_xd.p
