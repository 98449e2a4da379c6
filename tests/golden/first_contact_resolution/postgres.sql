-- test_golden.py::test_golden_sql[first_contact_resolution-postgres]: FCR by channel: two conditional counts from one scan of tickets, divided
WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM tickets.created_at) * 12 + EXTRACT(MONTH FROM tickets.created_at) - 1 AS p,
    tickets.channel AS d_channel,
    COUNT(*) FILTER(WHERE
      tickets.status IN ('resolved', 'closed') AND tickets.contacts = 1) AS m1_1,
    COUNT(*) FILTER(WHERE
      tickets.status IN ('resolved', 'closed')) AS m1_2
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-01-01'
    AND tickets.created_at < '2025-04-01'
    AND NOT tickets.is_spam
  GROUP BY
    EXTRACT(YEAR FROM tickets.created_at) * 12 + EXTRACT(MONTH FROM tickets.created_at) - 1,
    tickets.channel
), kpi_periods AS (
  SELECT
    GENERATE_SERIES(24300, 24302) AS p
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
  MAKE_DATE(CAST(DIV(kpi_periods.p, 12) AS INT), CAST((
    kpi_periods.p % 12
  ) + 1 AS INT), 1) AS period,
  kpi_combos.d_channel AS channel,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS DOUBLE PRECISION) / NULLIF(COALESCE(kpi_s1.m1_2, 0), 0) AS first_contact_resolution
FROM kpi_periods
CROSS JOIN kpi_combos
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
  AND kpi_s1.d_channel IS NOT DISTINCT FROM kpi_combos.d_channel
ORDER BY
  kpi_periods.p,
  kpi_combos.d_channel
