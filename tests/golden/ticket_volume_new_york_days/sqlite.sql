-- test_golden.py::test_golden_sql[ticket_volume_new_york_days-sqlite]: ticket volume by day in America/New_York over March and April: each row's time converted by kpi_local(), which the connector registers from Python's zoneinfo (SQLite has no time zones)
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(JULIANDAY(DATE(KPI_LOCAL(tickets.created_at, 'UTC', 'America/New_York'))) - 2415020.5 AS INTEGER) AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-02-28'
    AND tickets.created_at < '2025-05-02'
    AND NOT tickets.is_spam
  GROUP BY
    CAST(JULIANDAY(DATE(KPI_LOCAL(tickets.created_at, 'UTC', 'America/New_York'))) - 2415020.5 AS INTEGER)
), kpi_periods AS (
  SELECT
    45715 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 45775
)
SELECT
  DATE('1900-01-01', '+' || CAST(kpi_periods.p AS TEXT) || ' days') AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p NULLS LAST
