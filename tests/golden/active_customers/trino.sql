-- test_golden.py::test_golden_sql[active_customers-trino]: active customers and churn rate by plan: stocks as running sums of signups (+1) and churns (-1), churns counted by churned_at
WITH kpi_k1g AS (
  SELECT
    EXTRACT(YEAR FROM customers.signup_at) * 12 + EXTRACT(MONTH FROM customers.signup_at) - 1 AS pf,
    EXTRACT(YEAR FROM customers.churned_at) * 12 + EXTRACT(MONTH FROM customers.churned_at) - 1 AS pt,
    customers.plan AS d_plan,
    COUNT(*) FILTER(WHERE
      customers.churned_at IS NULL OR customers.churned_at > customers.signup_at) AS kd1_1,
    COUNT(*) AS m2_1
  FROM customers AS customers
  WHERE
    NOT customers.signup_at IS NULL
    AND customers.signup_at < CAST('2025-04-01' AS TIMESTAMP)
    OR customers.churned_at >= CAST('2025-01-01' AS TIMESTAMP)
    AND customers.churned_at < CAST('2025-04-01' AS TIMESTAMP)
  GROUP BY
    EXTRACT(YEAR FROM customers.signup_at) * 12 + EXTRACT(MONTH FROM customers.signup_at) - 1,
    EXTRACT(YEAR FROM customers.churned_at) * 12 + EXTRACT(MONTH FROM customers.churned_at) - 1,
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
    GREATEST(pf, 24299) AS p,
    d_plan,
    kd1_1 AS kd1_1
  FROM kpi_k1g
  WHERE
    NOT pf IS NULL AND pf <= 24302
  UNION ALL
  SELECT
    GREATEST(pt, 24299) AS p,
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
    s.p
  FROM UNNEST(SEQUENCE(24299, 24302)) AS s(p)
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
    ON kpi_s2.p = kpi_periods.p AND kpi_s2.d_plan IS NOT DISTINCT FROM kpi_combos.d_plan
  LEFT JOIN kpi_k1
    ON kpi_k1.p = kpi_periods.p AND kpi_k1.d_plan IS NOT DISTINCT FROM kpi_combos.d_plan
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
  DATE_ADD('month', kpi_wd.p - 22800, CAST('1900-01-01' AS DATE)) AS period,
  kpi_wd.d_plan AS plan,
  kpi_wd.w1_d AS active_customers,
  CAST(kpi_wd.w2_d AS DOUBLE) / NULLIF(kpi_wd.w3_d, 0) AS churn_rate
FROM kpi_wd
WHERE
  kpi_wd.p BETWEEN 24300 AND 24302
ORDER BY
  kpi_wd.p,
  kpi_wd.d_plan
