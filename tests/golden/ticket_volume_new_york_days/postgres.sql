-- test_golden.py::test_golden_sql[ticket_volume_new_york_days-postgres]: ticket volume by day in America/New_York over March and April: more than 31 days start in the range, so the offset in force (-5 hours before the change of 9 March, -4 after) is picked by one comparison and added to each row's time
WITH kpi_s1 AS (
  SELECT
    CAST(CASE
      WHEN tickets.created_at >= CAST('2025-03-09 07:00:00' AS TIMESTAMP)
      THEN tickets.created_at + INTERVAL '-14400 SECOND'
      ELSE tickets.created_at + INTERVAL '-18000 SECOND'
    END AS DATE) - CAST('1900-01-01' AS DATE) AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-02-28'
    AND tickets.created_at < '2025-05-02'
    AND NOT tickets.is_spam
  GROUP BY
    CAST(CASE
      WHEN tickets.created_at >= CAST('2025-03-09 07:00:00' AS TIMESTAMP)
      THEN tickets.created_at + INTERVAL '-14400 SECOND'
      ELSE tickets.created_at + INTERVAL '-18000 SECOND'
    END AS DATE) - CAST('1900-01-01' AS DATE)
), kpi_periods AS (
  SELECT
    GENERATE_SERIES(45715, 45775) AS p
)
SELECT
  CAST('1900-01-01' AS DATE) + CAST(kpi_periods.p AS INT) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
