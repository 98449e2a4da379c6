-- test_golden.py::test_golden_sql[ticket_volume_sao_paulo-postgres]: ticket volume by week cut in America/Sao_Paulo: naive UTC times read as local wall time, rows read a day wider than the range, the local period deciding
WITH kpi_s1 AS (
  SELECT
    DIV(
      CAST(tickets.created_at + INTERVAL '-10800 SECOND' AS DATE) - CAST('1900-01-01' AS DATE),
      7
    ) AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2024-12-29'
    AND tickets.created_at < '2025-02-04'
    AND NOT tickets.is_spam
  GROUP BY
    DIV(
      CAST(tickets.created_at + INTERVAL '-10800 SECOND' AS DATE) - CAST('1900-01-01' AS DATE),
      7
    )
), kpi_periods AS (
  SELECT
    GENERATE_SERIES(6522, 6526) AS p
)
SELECT
  CAST('1900-01-01' AS DATE) + CAST(kpi_periods.p * 7 AS INT) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
