-- test_golden.py::test_golden_sql[p90_first_response-snowflake]: 90th percentile of first response time by quarter, no date range: the periods span the data
WITH RECURSIVE kpi_s1 AS (
  SELECT
    DATE_PART(YEAR, tickets.created_at) * 4 + FLOOR((
      DATE_PART(MONTH, tickets.created_at) - 1
    ) / 3) AS p,
    PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
      CAST(CAST(DATEDIFF(MILLISECOND, tickets.created_at, tickets.first_response_at) AS DOUBLE) / 1000 AS DOUBLE)) AS m1_1
  FROM tickets AS tickets
  WHERE
    NOT tickets.created_at IS NULL AND NOT tickets.is_spam
  GROUP BY
    DATE_PART(YEAR, tickets.created_at) * 4 + FLOOR((
      DATE_PART(MONTH, tickets.created_at) - 1
    ) / 3)
), kpi_bounds AS (
  SELECT
    MIN(p) AS lo,
    MAX(p) AS hi,
    MIN(p) AS spine_lo,
    MAX(p) AS spine_hi
  FROM (
    SELECT
      p AS p
    FROM kpi_s1
  ) AS kpi_all
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
)
SELECT
  DATEADD(MONTH, (
    kpi_periods.p * 3
  ) - 22800, CAST('1900-01-01' AS DATE)) AS period,
  kpi_s1.m1_1 AS p90_first_response
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
CROSS JOIN kpi_bounds
WHERE
  kpi_periods.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_periods.p
