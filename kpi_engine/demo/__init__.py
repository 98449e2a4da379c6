"""The `kpi demo` help-desk dataset: deterministic, realistic tables generated inside DuckDB."""
