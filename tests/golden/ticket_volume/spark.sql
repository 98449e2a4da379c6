WITH kpi_s1 AS (
  SELECT
    YEAR(tickets.created_at) * 12 + MONTH(tickets.created_at) - 1 AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    NOT tickets.created_at IS NULL
    AND tickets.created_at >= '2025-01-01'
    AND tickets.created_at < '2025-04-01'
    AND NOT tickets.is_spam
  GROUP BY
    YEAR(tickets.created_at) * 12 + MONTH(tickets.created_at) - 1
), kpi_bounds AS (
  SELECT
    24300 AS lo,
    24302 AS hi,
    24300 AS spine_lo,
    24302 AS spine_hi
), kpi_periods AS (
  SELECT
    EXPLODE(SEQUENCE(spine_lo, spine_hi)) AS p
  FROM kpi_bounds
  WHERE
    NOT spine_lo IS NULL
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
  MAKE_DATE(CAST(kpi_wd.p DIV 12 AS INT), CAST((
    kpi_wd.p % 12
  ) + 1 AS INT), 1) AS period,
  kpi_wd.w1_d AS ticket_volume
FROM kpi_wd
CROSS JOIN kpi_bounds
WHERE
  kpi_wd.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_wd.p NULLS LAST
