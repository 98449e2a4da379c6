WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1 AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    NOT tickets.created_at IS NULL
    AND tickets.created_at >= '2025-01-01'
    AND tickets.created_at < '2025-04-01'
    AND NOT tickets.is_spam
  GROUP BY
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1
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
), kpi_vd AS (
  SELECT
    kpi_periods.p,
    COALESCE(kpi_s1.m1_1, 0) AS m1_1
  FROM kpi_periods
  LEFT JOIN kpi_s1
    ON kpi_s1.p = kpi_periods.p
), kpi_wd AS (
  SELECT
    kpi_vd.p,
    kpi_vd.m1_1 AS w1_d
  FROM kpi_vd
)
SELECT
  PRINTF('%04d-%02d-01', kpi_wd.p / 12, (
    kpi_wd.p % 12
  ) + 1) AS period,
  kpi_wd.w1_d AS ticket_volume
FROM kpi_wd
CROSS JOIN kpi_bounds
WHERE
  kpi_wd.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_wd.p NULLS LAST
