"""What every test folder of the repository shares (tests/ and plugins/*/tests).

- the fixtures of kpi_engine.testing, the module kpi_engine ships for connector authors:
  ``engine_source``, ``postgres_dsn``, ``spark_ready`` and the autouse ``no_kpi_environment``
  (each plugin's tests/conftest.py imports the ones it uses as well, so its suite also runs
  in a copy outside this repository);
- the report header names the engines the tests execute KPIs on (``TEST_ENGINES``);
- with ``CI=true`` a skipped test is a failure: every engine and extra must be there.

Fixtures of tests/ alone are in tests/conftest.py, helpers to import in tests/support/.

PostgreSQL: ``TEST_POSTGRES_DSN`` names a server to use; without it the ``postgres_dsn``
fixture starts a throwaway server from the machine's PostgreSQL binaries the first time a
test needs one (kpi_engine/testing/postgres.py). Spark needs ``pyspark`` and Java.
"""

from __future__ import annotations

import os

import pytest

from kpi_engine.testing import (  # noqa: F401 - fixtures: pytest finds them by name in this module
    engine_source,
    no_kpi_environment,
    postgres_dsn,
    spark_ready,
)
from support.engines import EXECUTED


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


_SKIPPED: list[str] = []


def pytest_report_header(config: pytest.Config) -> str:
    """The engines this run executes KPIs on, so a CI log says when TEST_ENGINES left some out."""
    chosen = " (TEST_ENGINES)" if os.environ.get("TEST_ENGINES", "").strip() else ""
    return f"engines executed: {', '.join(EXECUTED)}{chosen}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every engine and extra must be there."""
    if _in_ci() and _SKIPPED:
        print(f"\nCI=true: {len(_SKIPPED)} skipped test(s) count as failures: {', '.join(_SKIPPED[:5])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
