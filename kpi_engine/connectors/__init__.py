"""Built-in connectors (duckdb, sqlite) and the connector base classes."""
