-- test_golden.py::test_golden_sql[ticket_volume_new_york-sqlite]: ticket volume by month in America/New_York over March: each row's time converted by kpi_local(), which the connector registers from Python's zoneinfo (SQLite has no time zones)
WITH RECURSIVE kpi_s1 AS (
  SELECT
    CAST(STRFTIME('%Y', KPI_LOCAL(tickets.created_at, 'UTC', 'America/New_York')) AS INTEGER) * 12 + CAST(STRFTIME('%m', KPI_LOCAL(tickets.created_at, 'UTC', 'America/New_York')) AS INTEGER) - 1 AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-02-28'
    AND tickets.created_at < '2025-04-02'
    AND NOT tickets.is_spam
  GROUP BY
    CAST(STRFTIME('%Y', KPI_LOCAL(tickets.created_at, 'UTC', 'America/New_York')) AS INTEGER) * 12 + CAST(STRFTIME('%m', KPI_LOCAL(tickets.created_at, 'UTC', 'America/New_York')) AS INTEGER) - 1
), kpi_periods AS (
  SELECT
    24302 AS p
  UNION ALL
  SELECT
    kpi_periods.p + 1 AS p
  FROM kpi_periods
  WHERE
    kpi_periods.p < 24302
)
SELECT
  PRINTF('%04d-%02d-01', kpi_periods.p / 12, (
    kpi_periods.p % 12
  ) + 1) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p NULLS LAST
