"""CORS, off unless ``serve.cors_origins`` lists origins, and following kpi.yml as it is reloaded.

Only a request from a listed origin goes through Starlette's CORS middleware (which answers preflight
requests and adds the headers); any other request reaches the API as if CORS did not exist, so a
browser page from another origin gets no CORS header and cannot read the answer, and a preflight from
it is a 405 in the API's error shape, not a plain-text 400.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LiveCors"]


class LiveCors:
    def __init__(self, app: ASGIApp, origins: Callable[[], tuple[str, ...]]) -> None:
        self.app = app
        self.origins = origins
        self._middlewares: dict[tuple[str, ...], CORSMiddleware] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origins = self.origins() if scope["type"] == "http" else ()
        origin = next((value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"origin"), None)
        if not origins or origin is None or not ("*" in origins or origin in origins):
            await self.app(scope, receive, send)
            return
        middleware = self._middlewares.get(origins)
        if middleware is None:  # one per list of origins: the list changes only when kpi.yml does
            middleware = CORSMiddleware(self.app, allow_origins=list(origins), allow_methods=["*"],
                                        allow_headers=["*"], allow_credentials=False)
            self._middlewares = {origins: middleware}
        await middleware(scope, receive, send)
