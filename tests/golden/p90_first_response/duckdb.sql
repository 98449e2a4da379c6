-- test_golden.py::test_golden_sql[p90_first_response-duckdb]: 90th percentile of first response time by quarter, no date range: the periods span the data
WITH kpi_s1 AS (
  SELECT
    YEAR(tickets.created_at) * 4 + (
      MONTH(tickets.created_at) - 1
    ) // 3 AS p,
    QUANTILE_CONT(CAST(EPOCH(tickets.first_response_at) - EPOCH(tickets.created_at) AS DOUBLE), 0.9) AS m1_1
  FROM tickets AS tickets
  WHERE
    NOT tickets.created_at IS NULL AND NOT tickets.is_spam
  GROUP BY
    YEAR(tickets.created_at) * 4 + (
      MONTH(tickets.created_at) - 1
    ) // 3
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
    UNNEST(GENERATE_SERIES(spine_lo, spine_hi)) AS p
  FROM kpi_bounds
  WHERE
    NOT spine_lo IS NULL
)
SELECT
  CAST(CAST('1900-01-01' AS DATE) + TO_MONTHS(CAST((
    kpi_periods.p * 3
  ) - 22800 AS INT)) AS DATE) AS period,
  kpi_s1.m1_1 AS p90_first_response
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
CROSS JOIN kpi_bounds
WHERE
  kpi_periods.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_periods.p
