-- test_golden.py::test_golden_sql[ticket_volume_new_york-trino]: ticket volume by month in America/New_York over March: each row's time converted by the engine (AT_TIMEZONE), as kpi compile gives it
WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM CAST(AT_TIMEZONE(WITH_TIMEZONE(tickets.created_at, 'UTC'), 'America/New_York') AS TIMESTAMP)) * 12 + EXTRACT(MONTH FROM CAST(AT_TIMEZONE(WITH_TIMEZONE(tickets.created_at, 'UTC'), 'America/New_York') AS TIMESTAMP)) - 1 AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= CAST('2025-02-28' AS TIMESTAMP)
    AND tickets.created_at < CAST('2025-04-02' AS TIMESTAMP)
    AND NOT tickets.is_spam
  GROUP BY
    EXTRACT(YEAR FROM CAST(AT_TIMEZONE(WITH_TIMEZONE(tickets.created_at, 'UTC'), 'America/New_York') AS TIMESTAMP)) * 12 + EXTRACT(MONTH FROM CAST(AT_TIMEZONE(WITH_TIMEZONE(tickets.created_at, 'UTC'), 'America/New_York') AS TIMESTAMP)) - 1
), kpi_periods AS (
  SELECT
    s.p
  FROM UNNEST(SEQUENCE(24302, 24302)) AS s(p)
)
SELECT
  DATE_ADD('month', kpi_periods.p - 22800, CAST('1900-01-01' AS DATE)) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
