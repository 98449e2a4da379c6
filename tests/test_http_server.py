"""``kpi serve``: the real server process answering on a port, and the host it may listen on.
Numbers: tests/support/http_project.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from kpi_engine.cli import main
from kpi_engine.http import serving
from support.http_project import ALL_TOKEN, DEFINITIONS, EU_TOKEN, TABLES, TOKENS, bearer, running_server


def test_kpi_serve_answers_on_its_port(make_project):
    project = make_project(DEFINITIONS, TABLES, extra_config=TOKENS)
    printed: list[str] = []
    with running_server(project.root, output=printed) as base:
        health = httpx.get(f"{base}/health", timeout=2)
        assert (health.status_code, health.json()) == (200, {"status": "ok", "kpis": 0, "sources": {"default": "ok"}})
        assert httpx.get(f"{base}/query?kpi=volume").status_code == 401
        # EU tickets: Jan {1}, Feb {3, 5}
        response = httpx.get(f"{base}/query?kpi=volume", headers=bearer(EU_TOKEN))
        assert response.json()["rows"] == [{"period": "2025-01-01", "volume": 1}, {"period": "2025-02-01", "volume": 2}]
        response = httpx.post(f"{base}/query", json={"kpis": ["volume"], "grain": "all", "format": "csv"},
                              headers=bearer(ALL_TOKEN))
        assert (response.headers["content-type"], response.text) == ("text/csv; charset=utf-8", "volume\n5\n")
        assert "server" not in response.headers  # no version banner
        # every other endpoint once, as the EU token sees it (per_signup and the KPIs tagged support)
        eu = bearer(EU_TOKEN)
        assert [k["name"] for k in httpx.get(f"{base}/kpis", headers=eu).json()] == [
            "volume", "resolution_rate", "per_signup"]
        assert httpx.get(f"{base}/kpis/per_signup", headers=eu).json()["uses"] == ["volume", "signups"]
        assert httpx.get(f"{base}/kpis/signups", headers=eu).status_code == 403
        assert httpx.get(f"{base}/dimensions", headers=eu).json() == [
            {"name": "channel", "datasets": ["tickets"], "kpis": ["volume", "resolution_rate"]},
            {"name": "region", "datasets": ["customers", "tickets"], "kpis": ["volume", "resolution_rate",
                                                                               "per_signup"]}]
        compiled = httpx.post(f"{base}/compile", json={"kpis": ["volume"]}, headers=eu).json()["sql"]
        assert "'EU'" in compiled  # the token's filter is in the SQL
        assert httpx.get(f"{base}/openapi.json").status_code == 401
        assert "/query" in httpx.get(f"{base}/openapi.json", headers=eu).json()["paths"]
        assert httpx.get(f"{base}/query?kpi=volume&grain=mnth", headers=eu).status_code == 400
        # the numbers of /query are those of kpi run --format json for the same query
        response = httpx.get(f"{base}/query?kpi=volume&kpi=resolution_rate&by=channel", headers=bearer(ALL_TOKEN))
        run = subprocess.run([sys.executable, "-m", "kpi_engine", "--project", str(project.root), "run", "volume",
                              "resolution_rate", "--by", "channel", "--format", "json"], capture_output=True,
                             text=True, env={**os.environ, "KPI_ENGINE_NO_CACHE": "1"}, timeout=60)
        assert response.json()["rows"] == json.loads(run.stdout)
        # Jan: email {1 resolved}, chat {2 open}; Feb: chat {3 resolved}, email {4 resolved, 5 open}
        assert json.loads(run.stdout) == [
            {"period": "2025-01-01", "channel": "chat", "volume": 1, "resolution_rate": 0.0},
            {"period": "2025-01-01", "channel": "email", "volume": 1, "resolution_rate": 1.0},
            {"period": "2025-02-01", "channel": "chat", "volume": 1, "resolution_rate": 1.0},
            {"period": "2025-02-01", "channel": "email", "volume": 2, "resolution_rate": 0.5}]
    output = printed[0]
    assert '"GET /query?kpi=volume HTTP/1.1" 401' in output  # uvicorn's access log is on
    assert EU_TOKEN not in output and ALL_TOKEN not in output


def test_several_workers_answer_alike(make_project):
    """--workers 2: each worker process loads the project itself (from the environment uvicorn passes on)."""
    project = make_project(DEFINITIONS, TABLES)
    printed: list[str] = []
    with running_server(project.root, "--workers", "2", output=printed) as base:
        answers = [httpx.get(f"{base}/query?kpi=volume&grain=all").json()["rows"] for _ in range(6)]
    assert answers == [[{"volume": 5}]] * 6
    assert "Started parent process" in printed[0] or "worker" in printed[0].lower(), printed[0]


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


@pytest.mark.parametrize("module", ["fastapi", "uvicorn"])
def test_without_the_serve_extra_kpi_serve_says_what_to_install(make_project, monkeypatch, module):
    """One line and exit 2, as kpi mcp without its extra (tests/test_mcp.py)."""
    project = make_project(DEFINITIONS, TABLES)
    monkeypatch.setitem(sys.modules, module, None)  # `import fastapi` fails, as when it is not installed
    result = CliRunner().invoke(main, ["--project", str(project.root), "serve"])
    assert result.exit_code == 2
    assert result.output == (f"error[missing-extra]: kpi serve needs FastAPI and uvicorn ({module} is not installed): "
                             "pip install 'kpi-engine[serve]'\n")


@pytest.mark.parametrize("command, module, extra", [("serve", "fastapi", "serve"), ("mcp", "mcp", "mcp")])
def test_a_missing_extra_is_the_same_exit_status_for_both_servers(tmp_path, command, module, extra):
    """In a process of its own, where the package cannot be imported at all."""
    script = (f"import sys; sys.modules[{module!r}] = None\n"
              "from kpi_engine.cli import main\n"
              f"main(['--project', {str(tmp_path)!r}, {command!r}])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error[missing-extra]: kpi {command} needs "), done.stderr
    assert lines[0].endswith(f": pip install 'kpi-engine[{extra}]'")


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
