WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM marketing_spend.spend_date) * 12 + EXTRACT(MONTH FROM marketing_spend.spend_date) - 1 AS p,
    marketing_spend.channel AS d_acquisition_channel,
    SUM(marketing_spend.amount) AS m1_1
  FROM marketing_spend AS marketing_spend
  WHERE
    NOT marketing_spend.spend_date IS NULL
    AND marketing_spend.spend_date >= '2025-01-01'
    AND marketing_spend.spend_date < '2025-04-01'
  GROUP BY
    EXTRACT(YEAR FROM marketing_spend.spend_date) * 12 + EXTRACT(MONTH FROM marketing_spend.spend_date) - 1,
    marketing_spend.channel
), kpi_s2 AS (
  SELECT
    EXTRACT(YEAR FROM customers.signup_at) * 12 + EXTRACT(MONTH FROM customers.signup_at) - 1 AS p,
    customers.channel AS d_acquisition_channel,
    COUNT(*) AS m2_1
  FROM customers AS customers
  WHERE
    NOT customers.signup_at IS NULL
    AND customers.signup_at >= '2025-01-01'
    AND customers.signup_at < '2025-04-01'
  GROUP BY
    EXTRACT(YEAR FROM customers.signup_at) * 12 + EXTRACT(MONTH FROM customers.signup_at) - 1,
    customers.channel
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
    d_acquisition_channel
  FROM (
    SELECT
      kpi_s1.d_acquisition_channel
    FROM kpi_s1
    CROSS JOIN kpi_bounds
    WHERE
      kpi_s1.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
    UNION ALL
    SELECT
      kpi_s2.d_acquisition_channel
    FROM kpi_s2
    CROSS JOIN kpi_bounds
    WHERE
      kpi_s2.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
  ) AS kpi_seen
), kpi_vd AS (
  SELECT
    kpi_periods.p,
    kpi_combos.d_acquisition_channel,
    COALESCE(kpi_s1.m1_1, 0) AS m1_1,
    COALESCE(kpi_s2.m2_1, 0) AS m2_1
  FROM kpi_periods
  CROSS JOIN kpi_combos
  LEFT JOIN kpi_s1
    ON kpi_s1.p = kpi_periods.p
    AND kpi_s1.d_acquisition_channel IS NOT DISTINCT FROM kpi_combos.d_acquisition_channel
  LEFT JOIN kpi_s2
    ON kpi_s2.p = kpi_periods.p
    AND kpi_s2.d_acquisition_channel IS NOT DISTINCT FROM kpi_combos.d_acquisition_channel
), kpi_wd AS (
  SELECT
    kpi_vd.p,
    kpi_vd.d_acquisition_channel,
    kpi_vd.m1_1 AS w1_d,
    kpi_vd.m2_1 AS w2_d
  FROM kpi_vd
)
SELECT
  DATE_ADD(CAST('1900-01-01' AS DATE), INTERVAL (kpi_wd.p - 22800) MONTH) AS period,
  kpi_wd.d_acquisition_channel AS acquisition_channel,
  CAST(kpi_wd.w1_d AS FLOAT64) / NULLIF(kpi_wd.w2_d, 0) AS cac
FROM kpi_wd
CROSS JOIN kpi_bounds
WHERE
  kpi_wd.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_wd.p NULLS LAST,
  kpi_wd.d_acquisition_channel NULLS LAST
