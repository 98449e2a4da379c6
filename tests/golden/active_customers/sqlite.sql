-- test_golden.py::test_golden_sql[active_customers-sqlite]: active customers and churn rate by plan: stocks as running sums of signups (+1) and churns (-1), churns counted by churned_at
WITH RECURSIVE kpi_k1g AS (
  SELECT
    CAST(STRFTIME('%Y', customers.signup_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', customers.signup_at) AS INTEGER) - 1 AS pf,
    CAST(STRFTIME('%Y', customers.churned_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', customers.churned_at) AS INTEGER) - 1 AS pt,
    customers.plan AS d_plan,
    COUNT(*) FILTER(WHERE
      customers.churned_at IS NULL
      OR JULIANDAY(customers.churned_at) > JULIANDAY(customers.signup_at)) AS kd1_1,
    COUNT(*) AS m2_1
  FROM customers AS customers
  WHERE
    NOT customers.signup_at IS NULL
    AND customers.signup_at < '2025-04-02'
    OR customers.churned_at >= '2024-12-31'
    AND customers.churned_at < '2025-04-02'
  GROUP BY
    CAST(STRFTIME('%Y', customers.signup_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', customers.signup_at) AS INTEGER) - 1,
    CAST(STRFTIME('%Y', customers.churned_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', customers.churned_at) AS INTEGER) - 1,
    customers.plan
), kpi_s2 AS (
  SELECT
    pt AS p,
    d_plan,
    SUM(m2_1) AS m2_1
  FROM kpi_k1g
  WHERE
    NOT pt IS NULL AND pt >= 24300 AND pt <= 24302
  GROUP BY
    pt,
    d_plan
), kpi_k1e AS (
  SELECT
    MAX(pf, 24299) AS p,
    d_plan,
    kd1_1 AS kd1_1
  FROM kpi_k1g
  WHERE
    NOT pf IS NULL AND pf <= 24302
  UNION ALL
  SELECT
    MAX(pt, 24299) AS p,
    d_plan,
    -kd1_1 AS kd1_1
  FROM kpi_k1g
  WHERE
    NOT pt IS NULL AND pt <= 24302
), kpi_k1 AS (
  SELECT
    p,
    d_plan,
    SUM(kd1_1) AS kd1_1
  FROM kpi_k1e
  GROUP BY
    p,
    d_plan
), kpi_periods AS (
  SELECT
    24299 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 24302
), kpi_combos AS (
  SELECT DISTINCT
    d_plan
  FROM (
    SELECT
      kpi_s2.d_plan
    FROM kpi_s2
    WHERE
      kpi_s2.p BETWEEN 24300 AND 24302
    UNION ALL
    SELECT DISTINCT
      d_plan
    FROM kpi_k1g
    WHERE
      kd1_1 > 0 AND pf <= 24302 AND (
        pt IS NULL OR pt >= 24300
      )
  ) AS kpi_seen
), kpi_vd AS (
  SELECT
    kpi_periods.p,
    kpi_combos.d_plan,
    COALESCE(kpi_s2.m2_1, 0) AS m2_1,
    COALESCE(kpi_k1.kd1_1, 0) AS kd1_1
  FROM kpi_periods
  CROSS JOIN kpi_combos
  LEFT JOIN kpi_s2
    ON kpi_s2.p = kpi_periods.p AND kpi_s2.d_plan IS kpi_combos.d_plan
  LEFT JOIN kpi_k1
    ON kpi_k1.p = kpi_periods.p AND kpi_k1.d_plan IS kpi_combos.d_plan
), kpi_wd AS (
  SELECT
    kpi_vd.p,
    kpi_vd.d_plan,
    SUM(kpi_vd.kd1_1) OVER (
      PARTITION BY kpi_vd.d_plan
      ORDER BY kpi_vd.p
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS w1_d,
    kpi_vd.m2_1 AS w2_d,
    SUM(kpi_vd.kd1_1) OVER (
      PARTITION BY kpi_vd.d_plan
      ORDER BY kpi_vd.p
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) - kpi_vd.kd1_1 AS w3_d
  FROM kpi_vd
)
SELECT
  PRINTF('%04d-%02d-01', kpi_wd.p / 12, (
    kpi_wd.p % 12
  ) + 1) AS period,
  kpi_wd.d_plan AS plan,
  kpi_wd.w1_d AS active_customers,
  CAST(kpi_wd.w2_d AS REAL) / NULLIF(kpi_wd.w3_d, 0) AS churn_rate
FROM kpi_wd
WHERE
  kpi_wd.p BETWEEN 24300 AND 24302
ORDER BY
  kpi_wd.p NULLS LAST,
  kpi_wd.d_plan NULLS LAST
