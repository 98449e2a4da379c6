"""``kpi serve``: the real server process answering on a port, and the host it may listen on.
Numbers: tests/support/http_project.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from kpi_engine.cli import main
from kpi_engine.http import serving
from support.http_project import ALL_TOKEN, DEFINITIONS, EU_TOKEN, TABLES, TOKENS, bearer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_kpi_serve_answers_on_its_port(make_project):
    project = make_project(DEFINITIONS, TABLES, extra_config=TOKENS)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "kpi_engine", "--project", str(project.root), "serve",
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[0]
                assert time.monotonic() < deadline, "kpi serve did not answer within 30 s"
                time.sleep(0.2)
        assert (health.status_code, health.json()) == (200, {"status": "ok", "kpis": 0, "sources": {"default": "ok"}})
        assert httpx.get(f"{base}/query?kpi=volume").status_code == 401
        # EU tickets: Jan {1}, Feb {3, 5}
        response = httpx.get(f"{base}/query?kpi=volume", headers=bearer(EU_TOKEN))
        assert response.json()["rows"] == [{"period": "2025-01-01", "volume": 1}, {"period": "2025-02-01", "volume": 2}]
        response = httpx.post(f"{base}/query", json={"kpis": ["volume"], "grain": "all", "format": "csv"},
                              headers=bearer(ALL_TOKEN))
        assert (response.headers["content-type"], response.text) == ("text/csv; charset=utf-8", "volume\n5\n")
        assert "server" not in response.headers  # no version banner
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert '"GET /query?kpi=volume HTTP/1.1" 401' in output  # uvicorn's access log is on
    assert EU_TOKEN not in output and ALL_TOKEN not in output


def test_without_tokens_only_loopback_is_served(make_project, monkeypatch):
    project = make_project(DEFINITIONS, TABLES)
    started = []
    monkeypatch.setattr(serving, "run", lambda project, **options: started.append(options))
    result = CliRunner().invoke(main, ["--project", str(project.root), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "Error: --host 0.0.0.0: without serve.tokens in kpi.yml, kpi serve listens on the loopback interface " \
           "only (127.0.0.1)" in result.output
    assert started == []
    result = CliRunner().invoke(main, ["--project", str(project.root), "serve", "--port", "8123"])
    assert result.exit_code == 0 and started == [{"host": "127.0.0.1", "port": 8123, "workers": 1}]


def test_without_the_serve_extra_kpi_serve_says_what_to_install(make_project, monkeypatch):
    project = make_project(DEFINITIONS, TABLES)
    monkeypatch.setitem(sys.modules, "kpi_engine.http.serving", None)  # as if FastAPI were not installed
    result = CliRunner().invoke(main, ["--project", str(project.root), "serve"])
    assert result.exit_code == 2
    assert result.output.startswith("kpi serve needs FastAPI and uvicorn: pip install 'kpi-engine[serve]'")


def test_with_tokens_any_host_may_be_served(make_project, monkeypatch):
    project = make_project(DEFINITIONS, TABLES, extra_config=TOKENS)
    started = []
    monkeypatch.setattr(serving, "run", lambda project, **options: started.append(options))
    result = CliRunner().invoke(main, ["--project", str(project.root), "serve", "--host", "0.0.0.0", "--workers", "2"])
    assert result.exit_code == 0 and started == [{"host": "0.0.0.0", "port": 8000, "workers": 2}]


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False), ("", False)])
def test_what_counts_as_loopback(host, loopback):
    assert serving.is_loopback(host) is loopback
    assert (serving.check_host(host, []) is None) is loopback


def test_a_server_beyond_loopback_refuses_an_edit_that_removes_its_tokens(make_project, monkeypatch):
    """kpi serve --host 0.0.0.0 builds its app with require_tokens (tests/test_http_reload.py shows what that does)."""
    project = make_project(DEFINITIONS, TABLES, extra_config=TOKENS)
    built = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: built.append((app, options)))
    serving.run(project, host="0.0.0.0", port=8000)
    serving.run(project, host="127.0.0.1", port=8000)
    assert [app.state.live.require_tokens for app, _ in built] == [True, False]
    assert built[0][1]["host"] == "0.0.0.0" and built[0][1]["log_config"]["loggers"]["kpi_engine"]["level"] == "INFO"
