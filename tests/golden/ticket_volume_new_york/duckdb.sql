-- test_golden.py::test_golden_sql[ticket_volume_new_york-duckdb]: ticket volume by month in America/New_York over March: a row's month from the UTC instants the months around it start at (05:00 on 1 March, 04:00 on 1 April: the clocks changed on 9 March), by two comparisons, not a conversion a row
WITH kpi_s1 AS (
  SELECT
    CASE
      WHEN tickets.created_at >= CAST('2025-03-01 05:00:00' AS TIMESTAMP)
      THEN CASE
        WHEN tickets.created_at >= CAST('2025-04-01 04:00:00' AS TIMESTAMP)
        THEN 24303
        ELSE 24302
      END
      ELSE 24301
    END AS p,
    COUNT(*) AS m1_1
  FROM tickets AS tickets
  WHERE
    tickets.created_at >= '2025-02-28'
    AND tickets.created_at < '2025-04-02'
    AND NOT tickets.is_spam
  GROUP BY
    CASE
      WHEN tickets.created_at >= CAST('2025-03-01 05:00:00' AS TIMESTAMP)
      THEN CASE
        WHEN tickets.created_at >= CAST('2025-04-01 04:00:00' AS TIMESTAMP)
        THEN 24303
        ELSE 24302
      END
      ELSE 24301
    END
), kpi_periods AS (
  SELECT
    g.p
  FROM GENERATE_SERIES(24302, 24302) AS g(p)
)
SELECT
  CAST(CAST('1900-01-01' AS DATE) + TO_MONTHS(CAST(kpi_periods.p - 22800 AS INT)) AS DATE) AS period,
  COALESCE(kpi_s1.m1_1, 0) AS ticket_volume
FROM kpi_periods
LEFT JOIN kpi_s1
  ON kpi_s1.p = kpi_periods.p
ORDER BY
  kpi_periods.p
