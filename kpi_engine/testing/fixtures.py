"""pytest fixtures for testing a connector or a project against real engines.

pytest finds a fixture by its name in a ``conftest.py``, so import the ones you use there::

    from kpi_engine.testing import engine_source, no_kpi_environment, postgres_dsn  # noqa: F401

``postgres_dsn`` is the server named by ``TEST_POSTGRES_DSN``; without it, a throwaway server
is started from the machine's PostgreSQL binaries the first time a test asks for one, shared by
every test of the session (even when several conftest files import the fixture) and stopped at
its end. With neither, the tests that need PostgreSQL are skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kpi_engine.testing.tables import Table, source_yaml

__all__ = ["engine_source", "no_kpi_environment", "postgres_dsn", "spark_ready"]


@pytest.fixture(autouse=True)
def no_kpi_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never depend on the developer's own ``KPI_*`` variables (nor pass them to a ``kpi`` they run)."""
    for key in list(os.environ):
        if key.startswith("KPI_"):
            monkeypatch.delenv(key, raising=False)


@dataclass(frozen=True)
class _Server:
    """The session's throwaway server: its DSN, or why it could not start."""

    dsn: str | None
    error: str | None = None


_SERVER = pytest.StashKey[_Server]()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _throwaway_server(config: pytest.Config) -> _Server:
    """One server per test session, kept on the config so every copy of the fixture shares it."""
    # imported here, so `python -m kpi_engine.testing.postgres` finds it not yet imported
    from kpi_engine.testing import postgres

    if _SERVER in config.stash:
        return config.stash[_SERVER]
    # not under pytest's temporary folder: as root, the server runs as the `postgres` user,
    # who cannot enter root's private folders
    folder = Path(tempfile.mkdtemp(prefix="kpi-postgres-"))
    folder.chmod(0o755)

    def remove() -> None:
        try:
            postgres.stop(folder)
        except postgres.ServerError:
            pass  # nothing left to try: the folder is removed either way
        shutil.rmtree(folder, ignore_errors=True)

    try:
        server = _Server(postgres.start(folder, _free_port()))
    except postgres.ServerError as exc:
        server = _Server(None, str(exc))
    config.add_cleanup(remove)
    config.stash[_SERVER] = server
    return server


@pytest.fixture(scope="session")
def postgres_dsn(pytestconfig: pytest.Config) -> str:
    """The DSN of a PostgreSQL server the tests may create schemas in (``TEST_POSTGRES_DSN``, or a throwaway one)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")
    given = os.environ.get("TEST_POSTGRES_DSN")
    if given:
        return given
    server = _throwaway_server(pytestconfig)
    if server.dsn is None:
        pytest.skip(f"no PostgreSQL server: {server.error}, or set TEST_POSTGRES_DSN")
    return server.dsn


@pytest.fixture(scope="session")
def spark_ready() -> None:
    """PySpark and a Java runtime are there (the Spark connector starts its own session)."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install pyspark)")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip("Spark needs Java: no java on PATH and no JAVA_HOME")


@pytest.fixture
def engine_source(request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """engine_source(engine, root, tables) -> the kpi.yml ``default`` source block, tables written.

    ``engine`` is duckdb, sqlite, postgres or spark. PostgreSQL tables go to a new schema,
    dropped after the test; the server and Spark are only required by tests that ask for
    those engines.
    """
    cleanups: list[Callable[[], None]] = []

    def make(engine: str, root: Path, tables: dict[str, Table]) -> str:
        dsn = None
        if engine == "postgres":
            dsn = request.getfixturevalue("postgres_dsn")
        elif engine == "spark":
            request.getfixturevalue("spark_ready")
        return source_yaml(engine, root, tables, postgres_dsn=dsn, cleanups=cleanups)

    yield make
    for cleanup in cleanups:
        cleanup()
