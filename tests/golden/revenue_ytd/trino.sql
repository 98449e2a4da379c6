-- test_golden.py::test_golden_sql[revenue_ytd-trino]: to_date(revenue, year) by day in March: daily revenue summed from 1 January, restarting each year
WITH kpi_s1 AS (
  SELECT
    DATE_DIFF('day', CAST('1900-01-01' AS DATE), CAST(orders.ordered_at AS DATE)) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= CAST('2025-01-01' AS TIMESTAMP)
    AND orders.ordered_at < CAST('2025-04-01' AS TIMESTAMP)
    AND orders.status = 'paid'
  GROUP BY
    DATE_DIFF('day', CAST('1900-01-01' AS DATE), CAST(orders.ordered_at AS DATE))
), kpi_periods AS (
  SELECT
    s.p
  FROM UNNEST(SEQUENCE(45656, 45745)) AS s(p)
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
      PARTITION BY EXTRACT(YEAR FROM DATE_ADD('day', kpi_vd.p, CAST('1900-01-01' AS DATE)))
      ORDER BY kpi_vd.p
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS w1_d
  FROM kpi_vd
)
SELECT
  DATE_ADD('day', kpi_wd.p, CAST('1900-01-01' AS DATE)) AS period,
  kpi_wd.w1_d AS revenue_ytd
FROM kpi_wd
WHERE
  kpi_wd.p BETWEEN 45715 AND 45745
ORDER BY
  kpi_wd.p
