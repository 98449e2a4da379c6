-- test_golden.py::test_golden_sql[revenue_same_day_last_year-sqlite]: previous(revenue, 1, year) by day: a year back is 365 or 366 days, so each day joins the day with its date a year earlier (28 February for the 29th) rather than a LAG
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(JULIANDAY(DATE(orders.ordered_at)) - 2415020.5 AS INTEGER) AS p,
    SUM(orders.amount) AS m1_1
  FROM orders AS orders
  WHERE
    orders.ordered_at >= '2023-02-26'
    AND orders.ordered_at < '2024-03-03'
    AND orders.status = 'paid'
  GROUP BY
    CAST(JULIANDAY(DATE(orders.ordered_at)) - 2415020.5 AS INTEGER)
), kpi_periods AS (
  SELECT
    44982 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 45350
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
    kpi_vd.m1_1 AS w1_d
  FROM kpi_vd
), kpi_xd AS (
  SELECT
    kpi_wd.p,
    kpi_wd.w1_d,
    kpi_y1d.w1_d AS x1_d
  FROM kpi_wd
  LEFT JOIN kpi_wd AS kpi_y1d
    ON kpi_y1d.p = CAST(JULIANDAY(
      DATE(
        CASE
          WHEN STRFTIME(
            '%d',
            DATE(DATE('1900-01-01', '+' || CAST(kpi_wd.p AS TEXT) || ' days'), '-12 months')
          ) = STRFTIME('%d', DATE('1900-01-01', '+' || CAST(kpi_wd.p AS TEXT) || ' days'))
          THEN DATE(DATE('1900-01-01', '+' || CAST(kpi_wd.p AS TEXT) || ' days'), '-12 months')
          ELSE DATE(
            DATE(DATE('1900-01-01', '+' || CAST(kpi_wd.p AS TEXT) || ' days'), '-12 months'),
            'start of month',
            '-1 day'
          )
        END
      )
    ) - 2415020.5 AS INTEGER)
)
SELECT
  DATE('1900-01-01', '+' || CAST(kpi_xd.p AS TEXT) || ' days') AS period,
  kpi_xd.w1_d AS revenue,
  kpi_xd.x1_d AS revenue_same_day_last_year
FROM kpi_xd
WHERE
  kpi_xd.p BETWEEN 45347 AND 45350
ORDER BY
  kpi_xd.p NULLS LAST
