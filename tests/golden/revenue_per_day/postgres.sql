-- test_golden.py::test_golden_sql[revenue_per_day-postgres]: revenue / period_days() by quarter: the days of each quarter from its first day and the next one's
WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM orders.ordered_at) * 4 + DIV(EXTRACT(MONTH FROM orders.ordered_at) - 1, 3) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2025-01-01'
    AND orders.ordered_at < '2025-04-01'
    AND orders.status = 'paid'
  GROUP BY
    EXTRACT(YEAR FROM orders.ordered_at) * 4 + DIV(EXTRACT(MONTH FROM orders.ordered_at) - 1, 3)
), kpi_periods AS (
  SELECT
    GENERATE_SERIES(8100, 8100) AS p
)
SELECT
  MAKE_DATE(
    CAST(DIV(kpi_periods.p * 3, 12) AS INT),
    CAST((
      (
        kpi_periods.p * 3
      ) % 12
    ) + 1 AS INT),
    1
  ) AS period,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS DOUBLE PRECISION) / NULLIF(
    (
      (
        CAST(MAKE_DATE(
          CAST(DIV((
            kpi_periods.p + 1
          ) * 3, 12) AS INT),
          CAST((
            (
              (
                kpi_periods.p + 1
              ) * 3
            ) % 12
          ) + 1 AS INT),
          1
        ) AS DATE) - CAST('1900-01-01' AS DATE)
      ) - (
        CAST(MAKE_DATE(
          CAST(DIV(kpi_periods.p * 3, 12) AS INT),
          CAST((
            (
              kpi_periods.p * 3
            ) % 12
          ) + 1 AS INT),
          1
        ) AS DATE) - CAST('1900-01-01' AS DATE)
      )
    ),
    0
  ) AS revenue_per_day
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
