WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM tickets.created_at) * 12 + EXTRACT(MONTH FROM tickets.created_at) - 1 AS p,
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
    NOT tickets.created_at IS NULL
    AND tickets.created_at >= '2025-01-01'
    AND tickets.created_at < '2025-04-01'
    AND NOT tickets.is_spam
  GROUP BY
    EXTRACT(YEAR FROM tickets.created_at) * 12 + EXTRACT(MONTH FROM tickets.created_at) - 1,
    tickets.channel
), kpi_bounds AS (
  SELECT
    24300 AS lo,
    24302 AS hi,
    24300 AS spine_lo,
    24302 AS spine_hi
), kpi_periods AS (
  SELECT
    p
  FROM kpi_bounds
  CROSS JOIN UNNEST(GENERATE_ARRAY(spine_lo, spine_hi)) AS p
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
    COALESCE(kpi_s1.m1_1, 0) AS m1_1,
    COALESCE(kpi_s1.m1_2, 0) AS m1_2
  FROM kpi_periods
  CROSS JOIN kpi_combos
  LEFT JOIN kpi_s1
    ON kpi_s1.p = kpi_periods.p
    AND kpi_s1.d_channel IS NOT DISTINCT FROM kpi_combos.d_channel
), kpi_wd AS (
  SELECT
    kpi_vd.p,
    kpi_vd.d_channel,
    kpi_vd.m1_1 AS w1_d,
    kpi_vd.m1_2 AS w2_d
  FROM kpi_vd
)
SELECT
  DATE_ADD(CAST('1900-01-01' AS DATE), INTERVAL (kpi_wd.p - 22800) MONTH) AS period,
  kpi_wd.d_channel AS channel,
  CAST(kpi_wd.w1_d AS FLOAT64) / NULLIF(kpi_wd.w2_d, 0) AS first_contact_resolution
FROM kpi_wd
CROSS JOIN kpi_bounds
WHERE
  kpi_wd.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_wd.p NULLS LAST,
  kpi_wd.d_channel NULLS LAST
