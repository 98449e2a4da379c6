"""kpi_engine: declarative KPIs in YAML, compiled to SQL for any engine."""
