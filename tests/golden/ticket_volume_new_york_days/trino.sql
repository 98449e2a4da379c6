-- test_golden.py::test_golden_sql[ticket_volume_new_york_days-trino]: ticket volume by day in America/New_York over March and April: each row's time converted by the engine (AT_TIMEZONE), as kpi compile gives it
WITH kpi_s1 AS (
  SELECT
    DATE_DIFF(
      'day',
      CAST('1900-01-01' AS DATE),
      CAST(CAST(AT_TIMEZONE(WITH_TIMEZONE(tickets.created_at, 'UTC'), 'America/New_York') AS TIMESTAMP) AS DATE)
    ) AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= CAST('2025-02-28' AS TIMESTAMP)
    AND tickets.created_at < CAST('2025-05-02' AS TIMESTAMP)
    AND NOT tickets.is_spam
  GROUP BY
    DATE_DIFF(
      'day',
      CAST('1900-01-01' AS DATE),
      CAST(CAST(AT_TIMEZONE(WITH_TIMEZONE(tickets.created_at, 'UTC'), 'America/New_York') AS TIMESTAMP) AS DATE)
    )
), kpi_periods AS (
  SELECT
    s.p
  FROM UNNEST(SEQUENCE(45715, 45775)) AS s(p)
)
SELECT
  DATE_ADD('day', kpi_periods.p, CAST('1900-01-01' AS DATE)) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
