-- test_golden.py::test_golden_sql[aht_rolling_3m-sqlite]: rolling(average_handle_time, 3) by week: sums and counts from two weeks early, over 3-week windows
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(JULIANDAY(DATE(calls.called_at)) - 2415020.5 AS INTEGER) / 7 AS p,
    SUM(calls.handle_seconds) FILTER(WHERE
      calls.answered) AS m1_1,
    COUNT(calls.handle_seconds) FILTER(WHERE
      calls.answered) AS m1_2
  FROM calls AS calls
  WHERE
    calls.called_at >= '2024-12-15' AND calls.called_at < '2025-04-08'
  GROUP BY
    CAST(JULIANDAY(DATE(calls.called_at)) - 2415020.5 AS INTEGER) / 7
), kpi_periods AS (
  SELECT
    6520 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 6535
), kpi_vd AS (
  SELECT
    kpi_periods.p,
    COALESCE(kpi_s1.m1_1, 0) AS m1_1,
    COALESCE(kpi_s1.m1_2, 0) AS m1_2
  FROM kpi_periods
  LEFT JOIN kpi_s1
    ON kpi_s1.p = kpi_periods.p
), kpi_wd AS (
  SELECT
    kpi_vd.p,
    CAST(SUM(kpi_vd.m1_1) OVER (ORDER BY kpi_vd.p ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS REAL) / NULLIF(
      SUM(kpi_vd.m1_2) OVER (ORDER BY kpi_vd.p ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
      0
    ) AS w1_d
  FROM kpi_vd
)
SELECT
  DATE('1900-01-01', '+' || CAST(kpi_wd.p * 7 AS TEXT) || ' days') AS period,
  kpi_wd.w1_d AS aht_rolling_3m
FROM kpi_wd
WHERE
  kpi_wd.p BETWEEN 6522 AND 6535
ORDER BY
  kpi_wd.p NULLS LAST
