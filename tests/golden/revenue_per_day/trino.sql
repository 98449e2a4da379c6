-- test_golden.py::test_golden_sql[revenue_per_day-trino]: revenue / period_days() by quarter: the days of each quarter from its first day and the next one's
WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM orders.ordered_at) * 4 + FLOOR((
      EXTRACT(MONTH FROM orders.ordered_at) - 1
    ) / 3) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= CAST('2025-01-01' AS TIMESTAMP)
    AND orders.ordered_at < CAST('2025-04-01' AS TIMESTAMP)
    AND orders.status = 'paid'
  GROUP BY
    EXTRACT(YEAR FROM orders.ordered_at) * 4 + FLOOR((
      EXTRACT(MONTH FROM orders.ordered_at) - 1
    ) / 3)
), kpi_periods AS (
  SELECT
    s.p
  FROM UNNEST(SEQUENCE(8100, 8100)) AS s(p)
)
SELECT
  DATE_ADD('month', (
    kpi_periods.p * 3
  ) - 22800, CAST('1900-01-01' AS DATE)) AS period,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS DOUBLE) / NULLIF(
    (
      DATE_DIFF(
        'day',
        CAST('1900-01-01' AS DATE),
        CAST(DATE_ADD('month', (
          (
            kpi_periods.p + 1
          ) * 3
        ) - 22800, CAST('1900-01-01' AS DATE)) AS DATE)
      ) - DATE_DIFF(
        'day',
        CAST('1900-01-01' AS DATE),
        CAST(DATE_ADD('month', (
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
