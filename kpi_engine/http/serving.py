"""What ``kpi serve`` runs: uvicorn on the project's app, on loopback unless tokens guard it.

Without ``serve.tokens``, anyone who can reach the port can read every KPI, so the server binds to the
loopback interface only and another ``--host`` is refused. With ``--workers N`` (N > 1), each worker
process loads the project itself (uvicorn starts them from an import string), so each has its own cache.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ..definitions.model import TokenConfig
from ..project import Project, load
from .app import create_app

__all__ = ["app_from_environment", "check_host", "is_loopback", "run"]

#: How worker processes find the project (``--workers`` > 1): uvicorn builds each app from this module.
PROJECT_VARIABLE = "KPI_ENGINE_SERVE_PROJECT"
REQUIRE_TOKENS_VARIABLE = "KPI_ENGINE_SERVE_REQUIRE_TOKENS"


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost: it may resolve to anything


def check_host(host: str, tokens: Sequence[TokenConfig]) -> str | None:
    """Why ``host`` may not be served, or None: beyond loopback, only with tokens."""
    if tokens or is_loopback(host):
        return None
    return (f"--host {host}: without serve.tokens in kpi.yml, kpi serve listens on the loopback interface only "
            "(127.0.0.1), as anyone reaching the port could read every KPI; add serve.tokens to serve on "
            f"{host}")


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus kpi_engine's (reloads, errors) on the same handler. Access lines show the
    request line (path and query), never a header: tokens travel in the Authorization header only."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["kpi_engine"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


#: Seconds a thread may hold the GIL while another waits for it, in ``kpi serve``'s process.
SWITCH_INTERVAL = 0.001


def run(project: Project, *, host: str, port: int, workers: int = 1) -> None:
    """Serve until interrupted."""
    import uvicorn

    # the event loop answers cached queries while worker threads compile others: it waits for the GIL at most
    # this long (Python's default, 5 ms, is a cached answer's p99 of 140 ms under 16 clients on 2 cores)
    sys.setswitchinterval(SWITCH_INTERVAL)
    require_tokens = not is_loopback(host)
    options: dict[str, Any] = {"host": host, "port": port, "log_config": log_config(), "server_header": False}
    if workers > 1:
        project.close()
        os.environ[PROJECT_VARIABLE] = str(project.inputs.config if project.inputs and project.inputs.config.is_file()
                                           else project.root)
        os.environ[REQUIRE_TOKENS_VARIABLE] = "1" if require_tokens else ""
        uvicorn.run(f"{__name__}:app_from_environment", factory=True, workers=workers, **options)
        return
    uvicorn.run(create_app(project, require_tokens=require_tokens), **options)


def app_from_environment() -> FastAPI:
    """The app of a worker process: the project named by ``KPI_ENGINE_SERVE_PROJECT``."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    project = load(Path(os.environ[PROJECT_VARIABLE]))
    return create_app(project, require_tokens=bool(os.environ.get(REQUIRE_TOKENS_VARIABLE)))
