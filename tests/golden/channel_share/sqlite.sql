-- test_golden.py::test_golden_sql[channel_share-sqlite]: each channel's share of the month's tickets, with a query where: total() summed over the channels
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1 AS p,
    tickets.channel AS d_channel,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2024-12-31'
    AND tickets.created_at < '2025-04-02'
    AND tickets.priority <> 'low'
    AND NOT tickets.is_spam
  GROUP BY
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1,
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
), kpi_vt AS (
  SELECT
    kpi_periods.p,
    COALESCE(kpi_s1t.m1_1, 0) AS m1_1
  FROM kpi_periods
  LEFT JOIN kpi_s1t
    ON kpi_s1t.p = kpi_periods.p
)
SELECT
  PRINTF('%04d-%02d-01', kpi_periods.p / 12, (
    kpi_periods.p % 12
  ) + 1) AS period,
  kpi_combos.d_channel AS channel,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS REAL) / NULLIF(kpi_vt.m1_1, 0) AS channel_share
FROM kpi_periods
CROSS JOIN kpi_combos
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p AND kpi_s1.d_channel IS kpi_combos.d_channel
LEFT JOIN kpi_vt
  ON kpi_vt.p = kpi_periods.p
ORDER BY
  kpi_periods.p NULLS LAST,
  kpi_combos.d_channel NULLS LAST
