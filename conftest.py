"""Fixtures for every test folder (tests/ and plugins/*/tests): engines, environment, CI rules.

PostgreSQL: ``TEST_POSTGRES_DSN`` names a server to use; without it a throwaway
server is started from Debian's binaries (``.ci/postgres-server``) the first time
a test needs one, and stopped at the end. Spark needs ``pyspark`` and Java.
With ``CI=true`` a test skipped for a missing engine or extra is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))  # tests/engines.py, tests/reference.py: helpers of every test folder

import engines  # noqa: E402


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _no_user_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never depend on the developer's own kpi.yml or variables."""
    for key in list(os.environ):
        if key.startswith("KPI_"):
            monkeypatch.delenv(key, raising=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A DSN of a PostgreSQL server the tests may create schemas in."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install ./plugins/postgres)")
    given = os.environ.get("TEST_POSTGRES_DSN")
    if given:
        yield given
        return
    # not under pytest's temporary folder: as root, the server runs as the `postgres` user,
    # who cannot enter root's private folders
    folder = Path(tempfile.mkdtemp(prefix="kpi-postgres-"))
    folder.chmod(0o755)
    script = ROOT / ".ci" / "postgres-server"
    started = subprocess.run(["bash", str(script), "start", str(folder), str(_free_port())],
                             capture_output=True, text=True, check=False)
    if started.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"no PostgreSQL server: {started.stderr.strip().splitlines()[-1:]}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", str(script), "stop", str(folder)], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def spark_ready() -> None:
    """PySpark and a Java runtime are there (the Spark connector starts its own session)."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install ./plugins/spark)")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("Spark needs Java: no java on PATH and no JAVA_HOME")


@pytest.fixture
def engine_source(request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """engine_source(engine, root, tables) -> the kpi.yml ``default`` source block, tables written.

    PostgreSQL tables go to a new schema, dropped after the test; the server and
    Spark are only required by tests that ask for those engines.
    """
    cleanups: list[Callable[[], None]] = []

    def make(engine: str, root: Path, tables: dict[str, engines.Table]) -> str:
        dsn = None
        if engine == "postgres":
            dsn = request.getfixturevalue("postgres_dsn")
        elif engine == "spark":
            request.getfixturevalue("spark_ready")
        return engines.source_yaml(engine, root, tables, postgres_dsn=dsn, cleanups=cleanups)

    yield make
    for cleanup in cleanups:
        cleanup()


_SKIPPED: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a test that takes more than a few seconds")


def pytest_report_header(config: pytest.Config) -> str:
    """The engines this run executes KPIs on, so a CI log says when TEST_ENGINES left some out."""
    chosen = " (TEST_ENGINES)" if os.environ.get("TEST_ENGINES", "").strip() else ""
    return f"engines executed: {', '.join(engines.EXECUTED)}{chosen}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every engine and extra must be there."""
    if _in_ci() and _SKIPPED:
        print(f"\nCI=true: {len(_SKIPPED)} skipped test(s) count as failures: {', '.join(_SKIPPED[:5])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
