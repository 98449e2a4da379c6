-- test_golden.py::test_golden_sql[first_contact_resolution-snowflake]: FCR by channel: two conditional counts from one scan of tickets, divided
WITH RECURSIVE kpi_s1 AS (
  SELECT
    DATE_PART(YEAR, tickets.created_at) * 12 + DATE_PART(MONTH, tickets.created_at) - 1 AS p,
    tickets.channel AS d_channel,
    COUNT(
      CASE
        WHEN tickets.status IN ('resolved', 'closed') AND tickets.contacts = 1
        THEN 1
      END
    ) AS m1_1,
    COUNT(CASE WHEN tickets.status IN ('resolved', 'closed') THEN 1 END) AS m1_2
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-01-01'
    AND tickets.created_at < '2025-04-01'
    AND NOT tickets.is_spam
  GROUP BY
    DATE_PART(YEAR, tickets.created_at) * 12 + DATE_PART(MONTH, tickets.created_at) - 1,
    tickets.channel
), kpi_periods AS (
  SELECT
    24300 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 24302
), kpi_combos AS (
  SELECT DISTINCT
    d_channel
  FROM (
    SELECT
      kpi_s1.d_channel
    FROM kpi_s1
    WHERE
      kpi_s1.p BETWEEN 24300 AND 24302
  ) AS kpi_seen
)
SELECT
  DATEADD(MONTH, kpi_periods.p - 22800, CAST('1900-01-01' AS DATE)) AS period,
  kpi_combos.d_channel AS channel,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS DOUBLE) / NULLIF(COALESCE(kpi_s1.m1_2, 0), 0) AS first_contact_resolution
FROM kpi_periods
CROSS JOIN kpi_combos
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
  AND kpi_s1.d_channel IS NOT DISTINCT FROM kpi_combos.d_channel
ORDER BY
  kpi_periods.p,
  kpi_combos.d_channel
