-- test_golden.py::test_golden_sql[cac-sqlite]: CAC by acquisition channel: spend and new customers of two datasets, one scan each, by month
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(STRFTIME('%Y', marketing_spend.spend_date) AS INTEGER) * 12 + CAST(STRFTIME('%m', marketing_spend.spend_date) AS INTEGER) - 1 AS p,
    marketing_spend.channel AS d_acquisition_channel,
    SUM(marketing_spend.amount) AS m1_1
  FROM marketing_spend AS marketing_spend
  WHERE
    marketing_spend.spend_date >= '2024-12-31'
    AND marketing_spend.spend_date < '2025-04-02'
  GROUP BY
    CAST(STRFTIME('%Y', marketing_spend.spend_date) AS INTEGER) * 12 + CAST(STRFTIME('%m', marketing_spend.spend_date) AS INTEGER) - 1,
    marketing_spend.channel
), kpi_s2 AS (
  SELECT
    CAST(STRFTIME('%Y', customers.signup_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', customers.signup_at) AS INTEGER) - 1 AS p,
    customers.channel AS d_acquisition_channel,
    COUNT(*) AS m2_1
  FROM customers AS customers
  WHERE
    customers.signup_at >= '2024-12-31' AND customers.signup_at < '2025-04-02'
  GROUP BY
    CAST(STRFTIME('%Y', customers.signup_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', customers.signup_at) AS INTEGER) - 1,
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
  PRINTF('%04d-%02d-01', kpi_periods.p / 12, (
    kpi_periods.p % 12
  ) + 1) AS period,
  kpi_combos.d_acquisition_channel AS acquisition_channel,
  CAST(COALESCE(kpi_s1.m1_1, 0) AS REAL) / NULLIF(COALESCE(kpi_s2.m2_1, 0), 0) AS cac
FROM kpi_periods
CROSS JOIN kpi_combos
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
  AND kpi_s1.d_acquisition_channel IS kpi_combos.d_acquisition_channel
LEFT JOIN kpi_s2
  ON kpi_s2.p = kpi_periods.p
  AND kpi_s2.d_acquisition_channel IS kpi_combos.d_acquisition_channel
ORDER BY
  kpi_periods.p NULLS LAST,
  kpi_combos.d_acquisition_channel NULLS LAST
