-- test_golden.py::test_golden_sql[ticket_volume_new_york-postgres]: ticket volume by month in America/New_York over March: the offsets in force on the rows read (-5 hours before the change of 9 March, -4 after) picked by one comparison, not a conversion a row
WITH kpi_s1 AS (
  SELECT
    EXTRACT(YEAR FROM CASE
      WHEN tickets.created_at >= CAST('2025-03-09 07:00:00' AS TIMESTAMP)
      THEN tickets.created_at + INTERVAL '-14400 SECOND'
      ELSE tickets.created_at + INTERVAL '-18000 SECOND'
    END) * 12 + EXTRACT(MONTH FROM CASE
      WHEN tickets.created_at >= CAST('2025-03-09 07:00:00' AS TIMESTAMP)
      THEN tickets.created_at + INTERVAL '-14400 SECOND'
      ELSE tickets.created_at + INTERVAL '-18000 SECOND'
    END) - 1 AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-02-28'
    AND tickets.created_at < '2025-04-02'
    AND NOT tickets.is_spam
  GROUP BY
    EXTRACT(YEAR FROM CASE
      WHEN tickets.created_at >= CAST('2025-03-09 07:00:00' AS TIMESTAMP)
      THEN tickets.created_at + INTERVAL '-14400 SECOND'
      ELSE tickets.created_at + INTERVAL '-18000 SECOND'
    END) * 12 + EXTRACT(MONTH FROM CASE
      WHEN tickets.created_at >= CAST('2025-03-09 07:00:00' AS TIMESTAMP)
      THEN tickets.created_at + INTERVAL '-14400 SECOND'
      ELSE tickets.created_at + INTERVAL '-18000 SECOND'
    END) - 1
), kpi_periods AS (
  SELECT
    GENERATE_SERIES(24302, 24302) AS p
)
SELECT
  MAKE_DATE(CAST(DIV(kpi_periods.p, 12) AS INT), CAST((
    kpi_periods.p % 12
  ) + 1 AS INT), 1) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
