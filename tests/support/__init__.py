"""Helpers shared by the tests of tests/ (conftest.py holds fixtures only).

Import them by module, e.g. ``from support.engines import EXECUTED, write_tables``;
``tests/`` is on ``sys.path`` through ``pythonpath`` in pyproject.toml's pytest settings.

- :mod:`support.engines`: the engines this run executes (``TEST_ENGINES``) and the table
  writers of :mod:`kpi_engine.testing` (DuckDB, SQLite, PostgreSQL, Parquet);
- :mod:`support.reference`: a plain-Python evaluator of KPI queries, the oracle the
  engines' numbers are checked against;
- :mod:`support.edge_data`: seeded help-desk tables full of nulls, ties and period boundaries;
- :mod:`support.library_queries`: which KPIs a query can ask for, and float comparison of rows.
"""
