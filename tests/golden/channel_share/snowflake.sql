WITH RECURSIVE kpi_s1 AS (
  SELECT
    DATE_PART(YEAR, tickets.created_at) * 12 + DATE_PART(MONTH, tickets.created_at) - 1 AS p,
    tickets.channel AS d_channel,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    NOT tickets.created_at IS NULL
    AND tickets.created_at >= '2025-01-01'
    AND tickets.created_at < '2025-04-01'
    AND tickets.priority <> 'low'
    AND NOT tickets.is_spam
  GROUP BY
    DATE_PART(YEAR, tickets.created_at) * 12 + DATE_PART(MONTH, tickets.created_at) - 1,
    tickets.channel
), kpi_s1t AS (
  SELECT
    p,
    SUM(m1_1) AS m1_1
  FROM kpi_s1
  GROUP BY
    p
), kpi_bounds AS (
  SELECT
    24300 AS lo,
    24302 AS hi,
    24300 AS spine_lo,
    24302 AS spine_hi
), kpi_periods AS (
  SELECT
    kpi_bounds.spine_lo AS p
  FROM kpi_bounds
  WHERE
    NOT kpi_bounds.spine_lo IS NULL
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  CROSS JOIN kpi_bounds
  WHERE
    kpi_periods.p < kpi_bounds.spine_hi
), kpi_combos AS (
  SELECT DISTINCT
    d_channel
  FROM (
    SELECT
      kpi_s1.d_channel
    FROM kpi_s1
    CROSS JOIN kpi_bounds
    WHERE
      kpi_s1.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
  ) AS kpi_seen
), kpi_vd AS (
  SELECT
    kpi_periods.p,
    kpi_combos.d_channel,
    COALESCE(kpi_s1.m1_1, 0) AS m1_1
  FROM kpi_periods
  CROSS JOIN kpi_combos
  LEFT JOIN kpi_s1
    ON kpi_s1.p = kpi_periods.p
    AND kpi_s1.d_channel IS NOT DISTINCT FROM kpi_combos.d_channel
), kpi_wd AS (
  SELECT
    kpi_vd.p,
    kpi_vd.d_channel,
    kpi_vd.m1_1 AS w1_d
  FROM kpi_vd
), kpi_vt AS (
  SELECT
    kpi_periods.p,
    COALESCE(kpi_s1t.m1_1, 0) AS m1_1
  FROM kpi_periods
  LEFT JOIN kpi_s1t
    ON kpi_s1t.p = kpi_periods.p
), kpi_wt AS (
  SELECT
    kpi_vt.p,
    kpi_vt.m1_1 AS w1_t
  FROM kpi_vt
)
SELECT
  DATEADD(MONTH, kpi_wd.p - 22800, CAST('1900-01-01' AS DATE)) AS period,
  kpi_wd.d_channel AS channel,
  CAST(kpi_wd.w1_d AS DOUBLE) / NULLIF(kpi_wt.w1_t, 0) AS channel_share
FROM kpi_wd
CROSS JOIN kpi_bounds
LEFT JOIN kpi_wt
  ON kpi_wt.p = kpi_wd.p
WHERE
  kpi_wd.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_wd.p,
  kpi_wd.d_channel
