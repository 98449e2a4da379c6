-- test_golden.py::test_golden_sql[ticket_volume-duckdb]: ticket volume by month: one filtered count of tickets, every month of the range present
WITH kpi_s1 AS (
  SELECT
    YEAR(tickets.created_at) * 12 + MONTH(tickets.created_at) - 1 AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-01-01'
    AND tickets.created_at < '2025-04-01'
    AND NOT tickets.is_spam
  GROUP BY
    YEAR(tickets.created_at) * 12 + MONTH(tickets.created_at) - 1
), kpi_periods AS (
  SELECT
    g.p
  FROM GENERATE_SERIES(24300, 24302) AS g(p)
)
SELECT
  CAST(CAST('1900-01-01' AS DATE) + TO_MONTHS(CAST(kpi_periods.p - 22800 AS INT)) AS DATE) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
