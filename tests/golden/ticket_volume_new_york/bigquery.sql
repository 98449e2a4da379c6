-- test_golden.py::test_golden_sql[ticket_volume_new_york-bigquery]: ticket volume by month in America/New_York over March: each row's time converted by the engine (DATETIME(TIMESTAMP(t, 'UTC'), zone)), as kpi compile gives it
WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM DATETIME(TIMESTAMP(tickets.created_at, 'UTC'), 'America/New_York')) * 12 + EXTRACT(MONTH FROM DATETIME(TIMESTAMP(tickets.created_at, 'UTC'), 'America/New_York')) - 1 AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-02-28'
    AND tickets.created_at < '2025-04-02'
    AND NOT tickets.is_spam
  GROUP BY
    EXTRACT(YEAR FROM DATETIME(TIMESTAMP(tickets.created_at, 'UTC'), 'America/New_York')) * 12 + EXTRACT(MONTH FROM DATETIME(TIMESTAMP(tickets.created_at, 'UTC'), 'America/New_York')) - 1
), kpi_periods AS (
  SELECT
    p
  FROM UNNEST(GENERATE_ARRAY(24302, 24302)) AS p
)
SELECT
  DATE_ADD(CAST('1900-01-01' AS DATE), INTERVAL (kpi_periods.p - 22800) MONTH) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p NULLS LAST
