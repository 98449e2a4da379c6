"""Data sources: connector base classes, the built-in duckdb and sqlite connectors, how they open a source, result rows, checks against a live source."""
