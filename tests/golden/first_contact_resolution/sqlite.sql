-- test_golden.py::test_golden_sql[first_contact_resolution-sqlite]: FCR by channel: two conditional counts from one scan of tickets, divided
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1 AS p,
    tickets.channel AS d_channel,
    COUNT(*) FILTER(WHERE
      tickets.status IN ('resolved', 'closed') AND tickets.contacts = 1) AS m1_1,
    COUNT(*) FILTER(WHERE
      tickets.status IN ('resolved', 'closed')) AS m1_2
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2024-12-31'
    AND tickets.created_at < '2025-04-02'
    AND NOT tickets.is_spam
  GROUP BY
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1,
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
  PRINTF('%04d-%02d-01', kpi_periods.p / 12, (
    kpi_periods.p % 12
  ) + 1) AS period,
  kpi_combos.d_channel AS channel,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS REAL) / NULLIF(COALESCE(kpi_s1.m1_2, 0), 0) AS first_contact_resolution
FROM kpi_periods
CROSS JOIN kpi_combos
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p AND kpi_s1.d_channel IS kpi_combos.d_channel
ORDER BY
  kpi_periods.p NULLS LAST,
  kpi_combos.d_channel NULLS LAST
