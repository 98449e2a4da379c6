-- test_golden.py::test_golden_sql[customers_with_tickets_to_date-trino]: cumulative(count_distinct(customer_id)) by month: distinct customers of every ticket up to each month
WITH kpi_r1w AS (
  SELECT
    EXTRACT(YEAR FROM tickets.created_at) * 12 + EXTRACT(MONTH FROM tickets.created_at) - 1 AS q,
    tickets.customer_id AS x,
    CASE WHEN NOT tickets.customer_id IS NULL THEN 1 ELSE 0 END AS c
  FROM tickets AS tickets
  WHERE
    tickets.created_at < CAST('2025-04-01' AS TIMESTAMP)
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
    s.p
  FROM kpi_bounds
  CROSS JOIN UNNEST(SEQUENCE(spine_lo, spine_hi)) AS s(p)
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
  DATE_ADD('month', kpi_periods.p - 22800, CAST('1900-01-01' AS DATE)) AS period,
  COALESCE(kpi_r1.kpi_r1_value, 0) AS customers_with_tickets_to_date
FROM kpi_periods
LEFT JOIN kpi_r1
  ON kpi_r1.p = kpi_periods.p
CROSS JOIN kpi_bounds
WHERE
  kpi_periods.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_periods.p
