"""The HTTP API of a project (``kpi serve``): ``create_app(project)`` is an ASGI app, mountable in another.

Needs the ``serve`` extra: ``pip install 'kpi-engine[serve]'`` (FastAPI and uvicorn). One module per
concern: ``app`` (the routes), ``models`` (requests and responses), ``auth`` (tokens), ``cache``,
``limits``, ``cors``, ``errors``, ``serving`` (what ``kpi serve`` runs). Live definitions are
``kpi_engine.live``, shared with ``kpi mcp``.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
