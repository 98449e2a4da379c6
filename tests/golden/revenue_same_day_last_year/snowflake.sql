-- test_golden.py::test_golden_sql[revenue_same_day_last_year-snowflake]: previous(revenue, 1, year) by day: a year back is 365 or 366 days, so each day joins the day with its date a year earlier (28 February for the 29th) rather than a LAG
WITH RECURSIVE kpi_s1 AS (
  SELECT
    DATEDIFF(DAY, CAST('1900-01-01' AS DATE), CAST(orders.ordered_at AS DATE)) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2023-02-27'
    AND orders.ordered_at < '2024-03-02'
    AND orders.status = 'paid'
  GROUP BY
    DATEDIFF(DAY, CAST('1900-01-01' AS DATE), CAST(orders.ordered_at AS DATE))
), kpi_periods AS (
  SELECT
    44982 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 45350
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
    ON kpi_y1d.p = DATEDIFF(
      DAY,
      CAST('1900-01-01' AS DATE),
      CAST(DATEADD(MONTH, -12, DATEADD(DAY, kpi_wd.p, CAST('1900-01-01' AS DATE))) AS DATE)
    )
)
SELECT
  DATEADD(DAY, kpi_xd.p, CAST('1900-01-01' AS DATE)) AS period,
  kpi_xd.w1_d AS revenue,
  kpi_xd.x1_d AS revenue_same_day_last_year
FROM kpi_xd
WHERE
  kpi_xd.p BETWEEN 45347 AND 45350
ORDER BY
  kpi_xd.p
