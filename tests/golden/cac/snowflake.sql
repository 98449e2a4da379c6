-- test_golden.py::test_golden_sql[cac-snowflake]: CAC by acquisition channel: spend and new customers of two datasets, one scan each, by month
WITH RECURSIVE kpi_s1 AS (
  SELECT
    DATE_PART(YEAR, marketing_spend.spend_date) * 12 + DATE_PART(MONTH, marketing_spend.spend_date) - 1 AS p,
    marketing_spend.channel AS d_acquisition_channel,
    SUM(marketing_spend.amount) AS m1_1
  FROM marketing_spend AS marketing_spend
  WHERE
    marketing_spend.spend_date >= '2025-01-01'
    AND marketing_spend.spend_date < '2025-04-01'
  GROUP BY
    DATE_PART(YEAR, marketing_spend.spend_date) * 12 + DATE_PART(MONTH, marketing_spend.spend_date) - 1,
    marketing_spend.channel
), kpi_s2 AS (
  SELECT
    DATE_PART(YEAR, customers.signup_at) * 12 + DATE_PART(MONTH, customers.signup_at) - 1 AS p,
    customers.channel AS d_acquisition_channel,
    COUNT(*) AS m2_1
  FROM customers AS customers
  WHERE
    customers.signup_at >= '2025-01-01' AND customers.signup_at < '2025-04-01'
  GROUP BY
    DATE_PART(YEAR, customers.signup_at) * 12 + DATE_PART(MONTH, customers.signup_at) - 1,
    customers.channel
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
    d_acquisition_channel
  FROM (
    SELECT
      kpi_s1.d_acquisition_channel
    FROM kpi_s1
    WHERE
      kpi_s1.p BETWEEN 24300 AND 24302
    UNION ALL
    SELECT
      kpi_s2.d_acquisition_channel
    FROM kpi_s2
    WHERE
      kpi_s2.p BETWEEN 24300 AND 24302
  ) AS kpi_seen
)
SELECT
  DATEADD(MONTH, kpi_periods.p - 22800, CAST('1900-01-01' AS DATE)) AS period,
  kpi_combos.d_acquisition_channel AS acquisition_channel,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS DOUBLE) / NULLIF(COALESCE(kpi_s2.m2_1, 0), 0) AS cac
FROM kpi_periods
CROSS JOIN kpi_combos
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
  AND kpi_s1.d_acquisition_channel IS NOT DISTINCT FROM kpi_combos.d_acquisition_channel
LEFT JOIN kpi_s2
  ON kpi_s2.p = kpi_periods.p
  AND kpi_s2.d_acquisition_channel IS NOT DISTINCT FROM kpi_combos.d_acquisition_channel
ORDER BY
  kpi_periods.p,
  kpi_combos.d_acquisition_channel
