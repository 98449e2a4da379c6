-- test_golden.py::test_golden_sql[ticket_volume-trino]: ticket volume by month: one filtered count of tickets, every month of the range present
WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM tickets.created_at) * 12 + EXTRACT(MONTH FROM tickets.created_at) - 1 AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= CAST('2025-01-01' AS TIMESTAMP)
    AND tickets.created_at < CAST('2025-04-01' AS TIMESTAMP)
    AND NOT tickets.is_spam
  GROUP BY
    EXTRACT(YEAR FROM tickets.created_at) * 12 + EXTRACT(MONTH FROM tickets.created_at) - 1
), kpi_periods AS (
  SELECT
    s.p
  FROM UNNEST(SEQUENCE(24300, 24302)) AS s(p)
)
SELECT
  DATE_ADD('month', kpi_periods.p - 22800, CAST('1900-01-01' AS DATE)) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
