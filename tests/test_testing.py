"""kpi_engine.testing, the helpers kpi_engine ships for connector authors: what the suites don't show.

Every test on an engine uses its table writers and fixtures; here are the parts a passing
run never reaches: the throwaway PostgreSQL server is started once per session whoever asks,
and each way of failing says what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

import kpi_engine.testing
from kpi_engine.testing import fixtures, postgres, source_yaml


def session_config() -> tuple[SimpleNamespace, list[Callable[[], None]]]:
    """What _throwaway_server uses of pytest's Config (its stash and cleanups), and the cleanups."""
    cleanups: list[Callable[[], None]] = []
    return SimpleNamespace(stash=pytest.Stash(), add_cleanup=cleanups.append), cleanups


def test_every_exported_name_is_there():
    assert all(hasattr(kpi_engine.testing, name) for name in kpi_engine.testing.__all__)
    assert {"engine_source", "postgres_dsn", "spark_ready", "no_kpi_environment", "write_duckdb",
            "new_postgres_schema", "source_yaml"} <= set(kpi_engine.testing.__all__)


def test_a_postgres_source_needs_a_dsn_and_an_engine_must_be_known(tmp_path):
    with pytest.raises(ValueError, match=r"^engine 'postgres' needs postgres_dsn="):
        source_yaml("postgres", tmp_path, {})
    with pytest.raises(ValueError, match=r"^unknown engine 'duckbd'$"):
        source_yaml("duckbd", tmp_path, {})


def test_the_throwaway_server_is_started_once_per_session(monkeypatch):
    """Several conftest files import the fixture (tests/ and each plugin): they share one server."""
    started: list[tuple[Path, int]] = []
    stopped: list[Path] = []
    monkeypatch.setattr(postgres, "start",
                        lambda folder, port: started.append((folder, port)) or f"postgresql://x:{port}/db")
    monkeypatch.setattr(postgres, "stop", stopped.append)
    config, cleanups = session_config()
    first = fixtures._throwaway_server(config)
    assert fixtures._throwaway_server(config) is first
    [(folder, port)] = started
    assert first.dsn == f"postgresql://x:{port}/db" and folder.is_dir()
    for cleanup in cleanups:  # at the end of the session: stopped, and its folder removed
        cleanup()
    assert stopped == [folder] and not folder.exists()


def test_a_server_that_cannot_start_is_kept_as_the_reason_to_skip(monkeypatch):
    def refuse(folder: Path, port: int) -> str:
        raise postgres.ServerError("initdb failed: no space left on device")

    monkeypatch.setattr(postgres, "start", refuse)
    config, cleanups = session_config()
    server = fixtures._throwaway_server(config)
    assert (server.dsn, server.error) == (None, "initdb failed: no space left on device")
    assert fixtures._throwaway_server(config) is server  # not tried again by every test
    for cleanup in cleanups:
        cleanup()


def test_without_postgresql_binaries_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(Path, "glob", lambda self, pattern: iter(()))
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(postgres.ServerError) as info:
        postgres.start(tmp_path / "pg", 5432)
    assert str(info.value) == ("PostgreSQL server binaries not found (pg_ctl and initdb under "
                               "/usr/lib/postgresql/*/bin or on PATH): install PostgreSQL's server package")


@pytest.mark.parametrize("argv", [[], ["start"], ["stop", "DIR", "5432"], ["start", "DIR", "port"], ["run", "DIR"]])
def test_the_server_command_line_refuses_bad_usage(argv, capsys):
    assert postgres.main(argv) == 2
    assert capsys.readouterr().err == "usage: python -m kpi_engine.testing.postgres start DIR [PORT] | stop DIR\n"
