-- test_golden.py::test_golden_sql[p90_first_response-postgres]: 90th percentile of first response time by quarter, no date range: the periods span the data
WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM tickets.created_at) * 4 + DIV(EXTRACT(MONTH FROM tickets.created_at) - 1, 3) AS p,
    PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY
      CAST(EXTRACT(EPOCH FROM tickets.first_response_at) - EXTRACT(EPOCH FROM tickets.created_at) AS DOUBLE PRECISION)) AS m1_1
  FROM tickets AS tickets
  WHERE
    NOT tickets.created_at IS NULL AND NOT tickets.is_spam
  GROUP BY
    EXTRACT(YEAR FROM tickets.created_at) * 4 + DIV(EXTRACT(MONTH FROM tickets.created_at) - 1, 3)
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
    GENERATE_SERIES(spine_lo, spine_hi) AS p
  FROM kpi_bounds
  WHERE
    NOT spine_lo IS NULL
)
SELECT
  MAKE_DATE(
    CAST(DIV(kpi_periods.p * 3, 12) AS INT),
    CAST((
      (
        kpi_periods.p * 3
      ) % 12
    ) + 1 AS INT),
    1
  ) AS period,
  kpi_s1.m1_1 AS p90_first_response
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
CROSS JOIN kpi_bounds
WHERE
  kpi_periods.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_periods.p
