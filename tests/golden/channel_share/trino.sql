-- test_golden.py::test_golden_sql[channel_share-trino]: each channel's share of the month's tickets, with a query where: total() summed over the channels
WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM tickets.created_at) * 12 + EXTRACT(MONTH FROM tickets.created_at) - 1 AS p,
    tickets.channel AS d_channel,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= CAST('2025-01-01' AS TIMESTAMP)
    AND tickets.created_at < CAST('2025-04-01' AS TIMESTAMP)
    AND tickets.priority <> 'low'
    AND NOT tickets.is_spam
  GROUP BY
    EXTRACT(YEAR FROM tickets.created_at) * 12 + EXTRACT(MONTH FROM tickets.created_at) - 1,
    tickets.channel
), kpi_s1t AS (
  SELECT
    p,
    SUM(m1_1) AS m1_1
  FROM kpi_s1
  GROUP BY
    p
), kpi_periods AS (
  SELECT
    s.p
  FROM UNNEST(SEQUENCE(24300, 24302)) AS s(p)
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
), kpi_vt AS (
  SELECT
    kpi_periods.p,
    COALESCE(kpi_s1t.m1_1, 0) AS m1_1
  FROM kpi_periods
  LEFT JOIN kpi_s1t
    ON kpi_s1t.p = kpi_periods.p
)
SELECT
  DATE_ADD('month', kpi_periods.p - 22800, CAST('1900-01-01' AS DATE)) AS period,
  kpi_combos.d_channel AS channel,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS DOUBLE) / NULLIF(kpi_vt.m1_1, 0) AS channel_share
FROM kpi_periods
CROSS JOIN kpi_combos
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
  AND kpi_s1.d_channel IS NOT DISTINCT FROM kpi_combos.d_channel
LEFT JOIN kpi_vt
  ON kpi_vt.p = kpi_periods.p
ORDER BY
  kpi_periods.p,
  kpi_combos.d_channel
