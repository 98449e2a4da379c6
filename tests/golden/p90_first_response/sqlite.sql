-- test_golden.py::test_golden_sql[p90_first_response-sqlite]: 90th percentile of first response time by quarter, no date range: the periods span the data
WITH RECURSIVE kpi_r1w AS (
  SELECT
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 4 + (
      CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1
    ) / 3 AS q,
    CAST(CAST(ROUND(
      (
        JULIANDAY(tickets.first_response_at) - JULIANDAY(tickets.created_at)
      ) * 86400000.0
    ) AS REAL) / 1000.0 AS REAL) AS x,
    CASE
      WHEN NOT (
        CAST(ROUND(
          (
            JULIANDAY(tickets.first_response_at) - JULIANDAY(tickets.created_at)
          ) * 86400000.0
        ) AS REAL) / 1000.0
      ) IS NULL
      THEN 1
      ELSE 0
    END AS c
  FROM tickets AS tickets
  WHERE
    NOT tickets.created_at IS NULL AND NOT tickets.is_spam
), kpi_bounds AS (
  SELECT
    MIN(p) AS lo,
    MAX(p) AS hi,
    MIN(p) AS spine_lo,
    MAX(p) AS spine_hi
  FROM (
    SELECT
      q AS p
    FROM kpi_r1w
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
), kpi_r1x AS (
  SELECT
    kpi_periods.p AS p,
    kpi_r1w.x AS x
  FROM kpi_periods
  INNER JOIN kpi_r1w
    ON kpi_r1w.q = kpi_periods.p AND kpi_r1w.c = 1
), kpi_r1n AS (
  SELECT
    p,
    x,
    ROW_NUMBER() OVER (PARTITION BY p ORDER BY x NULLS LAST) AS rn,
    (
      COUNT(*) OVER (PARTITION BY p) - 1
    ) * 0.9 AS h
  FROM kpi_r1x
), kpi_r1 AS (
  SELECT
    p,
    MAX(CASE WHEN rn = CAST(h AS INTEGER) + 1 THEN x END) + (
      MAX(h - CAST(h AS INTEGER)) * (
        COALESCE(
          MAX(CASE WHEN rn = CAST(h AS INTEGER) + 2 THEN x END),
          MAX(CASE WHEN rn = CAST(h AS INTEGER) + 1 THEN x END)
        ) - MAX(CASE WHEN rn = CAST(h AS INTEGER) + 1 THEN x END)
      )
    ) AS kpi_r1_value
  FROM kpi_r1n
  GROUP BY
    p
)
SELECT
  PRINTF(
    '%04d-%02d-01',
    (
      kpi_periods.p * 3
    ) / 12,
    (
      (
        kpi_periods.p * 3
      ) % 12
    ) + 1
  ) AS period,
  kpi_r1.kpi_r1_value AS p90_first_response
FROM kpi_periods
LEFT JOIN kpi_r1
  ON kpi_r1.p = kpi_periods.p
CROSS JOIN kpi_bounds
WHERE
  kpi_periods.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_periods.p NULLS LAST
