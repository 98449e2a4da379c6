-- test_golden.py::test_golden_sql[ticket_volume_sao_paulo-trino]: ticket volume by week cut in America/Sao_Paulo: naive UTC times read as local wall time, rows read a day wider than the range, the local period deciding
WITH kpi_s1 AS (
  SELECT
    FLOOR(
      DATE_DIFF(
        'day',
        CAST('1900-01-01' AS DATE),
        CAST(CAST(AT_TIMEZONE(WITH_TIMEZONE(tickets.created_at, 'UTC'), 'America/Sao_Paulo') AS TIMESTAMP) AS DATE)
      ) / 7
    ) AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= CAST('2024-12-29' AS TIMESTAMP)
    AND tickets.created_at < CAST('2025-02-04' AS TIMESTAMP)
    AND NOT tickets.is_spam
  GROUP BY
    FLOOR(
      DATE_DIFF(
        'day',
        CAST('1900-01-01' AS DATE),
        CAST(CAST(AT_TIMEZONE(WITH_TIMEZONE(tickets.created_at, 'UTC'), 'America/Sao_Paulo') AS TIMESTAMP) AS DATE)
      ) / 7
    )
), kpi_periods AS (
  SELECT
    s.p
  FROM UNNEST(SEQUENCE(6522, 6526)) AS s(p)
)
SELECT
  DATE_ADD('day', kpi_periods.p * 7, CAST('1900-01-01' AS DATE)) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
