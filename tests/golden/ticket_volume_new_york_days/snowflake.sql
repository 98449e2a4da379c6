-- test_golden.py::test_golden_sql[ticket_volume_new_york_days-snowflake]: ticket volume by day in America/New_York over March and April: each row's time converted by the engine (CONVERT_TIMEZONE), as kpi compile gives it
WITH RECURSIVE kpi_s1 AS (
  SELECT
    DATEDIFF(
      DAY,
      CAST('1900-01-01' AS DATE),
      CAST(CONVERT_TIMEZONE('UTC', 'America/New_York', tickets.created_at) AS DATE)
    ) AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-02-28'
    AND tickets.created_at < '2025-05-02'
    AND NOT tickets.is_spam
  GROUP BY
    DATEDIFF(
      DAY,
      CAST('1900-01-01' AS DATE),
      CAST(CONVERT_TIMEZONE('UTC', 'America/New_York', tickets.created_at) AS DATE)
    )
), kpi_periods AS (
  SELECT
    45715 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 45775
)
SELECT
  DATEADD(DAY, kpi_periods.p, CAST('1900-01-01' AS DATE)) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
