WITH kpi_s1 AS (
  SELECT
    CAST(orders.ordered_at AS DATE) - CAST('1900-01-01' AS DATE) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    NOT orders.ordered_at IS NULL
    AND orders.ordered_at >= '2025-01-01'
    AND orders.ordered_at < '2025-04-01'
    AND orders.status = 'paid'
  GROUP BY
    CAST(orders.ordered_at AS DATE) - CAST('1900-01-01' AS DATE)
), kpi_bounds AS (
  SELECT
    45715 AS lo,
    45745 AS hi,
    45656 AS spine_lo,
    45745 AS spine_hi
), kpi_periods AS (
  SELECT
    UNNEST(GENERATE_SERIES(spine_lo, spine_hi)) AS p
  FROM kpi_bounds
  WHERE
    NOT spine_lo IS NULL
), kpi_vd AS (
  SELECT
    kpi_periods.p,
    COALESCE(kpi_s1.m1_1, 0) AS m1_1
  FROM kpi_periods
  LEFT JOIN kpi_s1
    ON kpi_s1.p = kpi_periods.p
), kpi_wd AS (
  SELECT
    kpi_vd.p,
    SUM(kpi_vd.m1_1) OVER (
      PARTITION BY YEAR(CAST('1900-01-01' AS DATE) + CAST(kpi_vd.p AS INT))
      ORDER BY kpi_vd.p
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS w1_d
  FROM kpi_vd
)
SELECT
  CAST('1900-01-01' AS DATE) + CAST(kpi_wd.p AS INT) AS period,
  kpi_wd.w1_d AS revenue_ytd
FROM kpi_wd
CROSS JOIN kpi_bounds
WHERE
  kpi_wd.p BETWEEN kpi_bounds.lo AND kpi_bounds.hi
ORDER BY
  kpi_wd.p
