WITH kpi_s1 AS (
  SELECT
    0 AS p,
    COUNT(*) AS m1_1,
    AVG(
      CAST(EXTRACT(EPOCH FROM tickets.first_response_at) - EXTRACT(EPOCH FROM tickets.created_at) AS DOUBLE PRECISION)
    ) AS m1_2,
    COUNT(*) FILTER(WHERE
      tickets.is_complaint) AS m1_3
  FROM tickets AS tickets
  WHERE
    NOT tickets.created_at IS NULL
    AND tickets.created_at >= '2025-01-01'
    AND tickets.created_at < '2025-04-01'
    AND NOT tickets.is_spam
), kpi_s2 AS (
  SELECT
    0 AS p,
    COUNT(*) AS m2_1
  FROM tickets AS tickets
  WHERE
    NOT tickets.resolved_at IS NULL
    AND tickets.resolved_at >= '2025-01-01'
    AND tickets.resolved_at < '2025-04-01'
    AND NOT tickets.is_spam
), kpi_bounds AS (
  SELECT
    0 AS lo,
    0 AS hi,
    0 AS spine_lo,
    0 AS spine_hi
), kpi_periods AS (
  SELECT
    0 AS p
), kpi_vd AS (
  SELECT
    kpi_periods.p,
    COALESCE(kpi_s1.m1_1, 0) AS m1_1,
    kpi_s1.m1_2 AS m1_2,
    COALESCE(kpi_s1.m1_3, 0) AS m1_3,
    COALESCE(kpi_s2.m2_1, 0) AS m2_1
  FROM kpi_periods
  LEFT JOIN kpi_s1
    ON kpi_s1.p = kpi_periods.p
  LEFT JOIN kpi_s2
    ON kpi_s2.p = kpi_periods.p
), kpi_wd AS (
  SELECT
    kpi_vd.p,
    kpi_vd.m1_1 AS w1_d,
    kpi_vd.m2_1 AS w2_d,
    kpi_vd.m1_2 AS w3_d,
    kpi_vd.m1_3 AS w4_d
  FROM kpi_vd
)
SELECT
  kpi_wd.w1_d AS ticket_volume,
  kpi_wd.w1_d - kpi_wd.w2_d AS backlog_change,
  kpi_wd.w3_d AS first_response_time,
  CAST(kpi_wd.w4_d AS DOUBLE PRECISION) / NULLIF(kpi_wd.w1_d, 0) AS complaint_rate
FROM kpi_wd
CROSS JOIN kpi_bounds
WHERE
  kpi_wd.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_wd.p
