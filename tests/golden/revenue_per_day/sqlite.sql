-- test_golden.py::test_golden_sql[revenue_per_day-sqlite]: revenue / period_days() by quarter: the days of each quarter from its first day and the next one's
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(STRFTIME('%Y', orders.ordered_at) AS INTEGER) * 4 + (
      CAST(STRFTIME('%m', orders.ordered_at) AS INTEGER) - 1
    ) / 3 AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2024-12-31'
    AND orders.ordered_at < '2025-04-02'
    AND orders.status = 'paid'
  GROUP BY
    CAST(STRFTIME('%Y', orders.ordered_at) AS INTEGER) * 4 + (
      CAST(STRFTIME('%m', orders.ordered_at) AS INTEGER) - 1
    ) / 3
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
  PRINTF(
    '%04d-%02d-01',
    (
      kpi_periods.p * 3
    ) / 12,
    (
      (
        kpi_periods.p * 3
      ) % 12
    ) + 1
  ) AS period,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS REAL) / NULLIF(
    (
      CAST(JULIANDAY(
        DATE(
          PRINTF(
            '%04d-%02d-01',
            (
              (
                kpi_periods.p + 1
              ) * 3
            ) / 12,
            (
              (
                (
                  kpi_periods.p + 1
                ) * 3
              ) % 12
            ) + 1
          )
        )
      ) - 2415020.5 AS INTEGER) - CAST(JULIANDAY(
        DATE(
          PRINTF(
            '%04d-%02d-01',
            (
              kpi_periods.p * 3
            ) / 12,
            (
              (
                kpi_periods.p * 3
              ) % 12
            ) + 1
          )
        )
      ) - 2415020.5 AS INTEGER)
    ),
    0
  ) AS revenue_per_day
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p NULLS LAST
