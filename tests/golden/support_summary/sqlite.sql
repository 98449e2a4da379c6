-- test_golden.py::test_golden_sql[support_summary-sqlite]: four ticket KPIs over the quarter (grain all): one scan of tickets by created_at, one by resolved_at
WITH kpi_s1 AS (
  SELECT
    0 AS p,
    COUNT(*) AS m1_1,
    AVG(
      CAST(ROUND(
        (
          JULIANDAY(tickets.first_response_at) - JULIANDAY(tickets.created_at)
        ) * 86400000.0
      ) AS REAL) / 1000.0
    ) AS m1_2,
    COUNT(*) FILTER(WHERE
      tickets.is_complaint) AS m1_3
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2024-12-31'
    AND DATE(tickets.created_at) >= '2025-01-01'
    AND tickets.created_at < '2025-04-02'
    AND DATE(tickets.created_at) < '2025-04-01'
    AND NOT tickets.is_spam
), kpi_s2 AS (
  SELECT
    0 AS p,
    COUNT(*) AS m2_1
  FROM tickets AS tickets
  WHERE
    tickets.resolved_at >= '2024-12-31'
    AND DATE(tickets.resolved_at) >= '2025-01-01'
    AND tickets.resolved_at < '2025-04-02'
    AND DATE(tickets.resolved_at) < '2025-04-01'
    AND NOT tickets.is_spam
), kpi_periods AS (
  SELECT
    0 AS p
)
SELECT
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume,
  COALESCE(kpi_s1.m1_1, 0) - COALESCE(kpi_s2.m2_1, 0) AS backlog_change,
  kpi_s1.m1_2 AS first_response_time,
  CAST(COALESCE(kpi_s1.m1_3, 0) AS REAL) / NULLIF(COALESCE(kpi_s1.m1_1, 0), 0) AS complaint_rate
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
LEFT JOIN kpi_s2
  ON kpi_s2.p = kpi_periods.p
ORDER BY
  kpi_periods.p NULLS LAST
