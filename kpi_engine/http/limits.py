"""Bounds on what one request may cost: its body's size, its number of KPIs, its number of rows.

The body is bounded before anything reads it (413); the KPIs of a query by ``serve.max_kpis`` (400);
the rows of a result by ``serve.max_rows`` (413, before anything is sent). The time of a query is
bounded by ``serve.timeout``, which the project enforces on the engine (504).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import HttpError, error_response

__all__ = ["BodyLimit", "DEFAULT_MAX_BODY", "check_kpis", "check_rows"]

#: Bytes a request body may have: a query is a few hundred.
DEFAULT_MAX_BODY = 64 * 1024


def check_kpis(names: list[str], max_kpis: int) -> None:
    count = len(dict.fromkeys(names))
    if count > max_kpis:
        raise HttpError(400, f"{count} KPIs in one query; the limit is {max_kpis} (serve.max_kpis): split the query",
                        code="too-many-kpis")


def check_rows(rows: int, max_rows: int) -> None:
    if rows > max_rows:
        raise HttpError(413, f"the result has {rows} rows; the limit is {max_rows} (serve.max_rows): narrow the "
                        "query (a coarser grain, fewer by dimensions, a shorter range or a where)",
                        code="too-many-rows")


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` is answered 413 without reaching the app.

    The body is read here (a declared Content-Length over the limit is refused before reading), then
    handed to the app as it came.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "body-too-large", f"the request body is over {self.max_bytes} bytes")
        await response(scope, receive, send)


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
