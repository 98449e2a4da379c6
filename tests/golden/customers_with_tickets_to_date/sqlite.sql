-- test_golden.py::test_golden_sql[customers_with_tickets_to_date-sqlite]: cumulative(count_distinct(customer_id)) by month: distinct customers of every ticket up to each month
WITH RECURSIVE kpi_r1w AS (
  SELECT
    CAST(STRFTIME('%Y', tickets.created_at) AS INTEGER) * 12 + CAST(STRFTIME('%m', tickets.created_at) AS INTEGER) - 1 AS q,
    tickets.customer_id AS x,
    CASE WHEN NOT tickets.customer_id IS NULL THEN 1 ELSE 0 END AS c
  FROM tickets AS tickets
  WHERE
    tickets.created_at < '2025-04-02'
), kpi_bounds AS (
  SELECT
    24300 AS lo,
    24302 AS hi,
    CASE
      WHEN (
        SELECT
          MIN(p)
        FROM (
          SELECT
            q AS p
          FROM kpi_r1w
        ) AS kpi_early
      ) < 24300
      THEN (
        SELECT
          MIN(p)
        FROM (
          SELECT
            q AS p
          FROM kpi_r1w
        ) AS kpi_early
      )
      ELSE 24300
    END AS spine_lo,
    24302 AS spine_hi
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
), kpi_r1 AS (
  SELECT
    kpi_periods.p AS p,
    COUNT(DISTINCT kpi_r1w.x) FILTER(WHERE
      kpi_r1w.c = 1) AS kpi_r1_value
  FROM kpi_periods
  INNER JOIN kpi_r1w
    ON kpi_r1w.q <= kpi_periods.p
  GROUP BY
    kpi_periods.p
)
SELECT
  PRINTF('%04d-%02d-01', kpi_periods.p / 12, (
    kpi_periods.p % 12
  ) + 1) AS period,
  COALESCE(kpi_r1.kpi_r1_value, 0) AS customers_with_tickets_to_date
FROM kpi_periods
LEFT JOIN kpi_r1
  ON kpi_r1.p = kpi_periods.p
CROSS JOIN kpi_bounds
WHERE
  kpi_periods.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_periods.p NULLS LAST
