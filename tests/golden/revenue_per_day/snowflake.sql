-- test_golden.py::test_golden_sql[revenue_per_day-snowflake]: revenue / period_days() by quarter: the days of each quarter from its first day and the next one's
WITH RECURSIVE kpi_s1 AS (
  SELECT
    DATE_PART(YEAR, orders.ordered_at) * 4 + FLOOR((
      DATE_PART(MONTH, orders.ordered_at) - 1
    ) / 3) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2025-01-01'
    AND orders.ordered_at < '2025-04-01'
    AND orders.status = 'paid'
  GROUP BY
    DATE_PART(YEAR, orders.ordered_at) * 4 + FLOOR((
      DATE_PART(MONTH, orders.ordered_at) - 1
    ) / 3)
), kpi_periods AS (
  SELECT
    8100 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 8100
)
SELECT
  DATEADD(MONTH, (
    kpi_periods.p * 3
  ) - 22800, CAST('1900-01-01' AS DATE)) AS period,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS DOUBLE) / NULLIF(
    (
      DATEDIFF(
        DAY,
        CAST('1900-01-01' AS DATE),
        CAST(DATEADD(MONTH, (
          (
            kpi_periods.p + 1
          ) * 3
        ) - 22800, CAST('1900-01-01' AS DATE)) AS DATE)
      ) - DATEDIFF(
        DAY,
        CAST('1900-01-01' AS DATE),
        CAST(DATEADD(MONTH, (
          kpi_periods.p * 3
        ) - 22800, CAST('1900-01-01' AS DATE)) AS DATE)
      )
    ),
    0
  ) AS revenue_per_day
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
