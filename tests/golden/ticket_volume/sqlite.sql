-- test_golden.py::test_golden_sql[ticket_volume-sqlite]: ticket volume by month: one filtered count of tickets, every month of the range present
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1 AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2024-12-31'
    AND tickets.created_at < '2025-04-02'
    AND NOT tickets.is_spam
  GROUP BY
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1
), kpi_periods AS (
  SELECT
    24300 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 24302
)
SELECT
  PRINTF('%04d-%02d-01', kpi_periods.p / 12, (
    kpi_periods.p % 12
  ) + 1) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p NULLS LAST
