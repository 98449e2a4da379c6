"""The small project the HTTP API tests serve, and a client for it. Every number the tests expect is
counted by hand from these rows.

    tickets (time created_at)                            customers (time signup_at)
    id  created_at   region  channel  status            id  signup_at    region
    1   2025-01-05   EU      email    resolved          1   2025-01-02   EU
    2   2025-01-20   US      chat     open              2   2025-01-03   US
    3   2025-02-03   EU      chat     resolved          3   2025-02-10   US
    4   2025-02-10   US      email    resolved
    5   2025-02-15   EU      email    open

    volume           Jan 2, Feb 3 (all 5)         EU: Jan 1, Feb 2 (all 3)
    resolution_rate  Jan 1/2 = 0.5 (bad: below warning 0.55), Feb 2/3 (ok: target 0.6)
    signups          Jan 2, Feb 1                 EU: Jan 1, Feb 0
    per_signup       Jan 2/2 = 1.0, Feb 3/1 = 3.0 EU: Jan 1/1 = 1.0, Feb 2/0 = null
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from kpi_engine.http import create_app

D = dt.date
DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions: {region: region, channel: channel}
  customers:
    table: customers
    time: signup_at
    dimensions: {region: region}
kpis:
  volume:
    dataset: tickets
    formula: count()
    format: integer
    tags: [support]
  resolution_rate:
    title: Resolution rate
    description: Share of tickets resolved.
    dataset: tickets
    formula: "count(where status = 'resolved') / count()"
    format: percent
    decimals: 1
    direction: higher
    target: 0.6
    warning: 0.55
    owner: support-ops
    tags: [support, quality]
  signups:
    dataset: customers
    formula: count()
    tags: [growth]
  per_signup:
    title: Tickets per signup
    formula: volume / signups
  emails:
    dataset: tickets
    formula: "count(where channel = 'email')"
    hidden: true
"""
TABLES = {
    "tickets": (["id", "created_at", "region", "channel", "status"], [
        (1, D(2025, 1, 5), "EU", "email", "resolved"), (2, D(2025, 1, 20), "US", "chat", "open"),
        (3, D(2025, 2, 3), "EU", "chat", "resolved"), (4, D(2025, 2, 10), "US", "email", "resolved"),
        (5, D(2025, 2, 15), "EU", "email", "open")]),
    "customers": (["id", "signup_at", "region"], [
        (1, D(2025, 1, 2), "EU"), (2, D(2025, 1, 3), "US"), (3, D(2025, 2, 10), "US")]),
}

#: Tokens of the same length, so a wrong one differs in content only.
EU_TOKEN = "eu-token-7f3a9c1d5e8b2a4f6c0d"
ALL_TOKEN = "al-token-0b9e8d7c6a5f4e3d2c1b"
WRONG_TOKEN = "eu-token-7f3a9c1d5e8b2a4f6c0e"
TOKENS = f"""
serve:
  tokens:
    - name: eu-dashboard
      token: {EU_TOKEN}
      kpis: [per_signup, "tag:support"]
      where: region = 'EU'
    - name: everything
      token: {ALL_TOKEN}
"""


def client(project, **options) -> TestClient:
    """A client of ``create_app(project)``, in process; a server error is an answer, not an exception."""
    return TestClient(create_app(project, **options), raise_server_exceptions=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(root: Path, *options: str, env: Mapping[str, str] | None = None,
                   output: list[str] | None = None) -> Iterator[str]:
    """A real ``kpi serve`` process on a free loopback port, answering /health: its base URL. At the end it
    is stopped, and what it printed (uvicorn's log) is appended to ``output``."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "kpi_engine", "--project", str(root), "serve", "--port", str(port),
                               *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=dict(env if env is not None else os.environ))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.communicate()[0]
                assert time.monotonic() < deadline, "kpi serve did not answer within 60 s"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        printed = server.communicate(timeout=30)[0]
        if output is not None:
            output.append(printed)
