"""Answering a repeated ``GET /query`` from the bytes of its last cached answer.

Dashboards ask the same URL again and again. Once an answer came from the result cache, the bytes written
for it are kept under the request as sent (its query string and Authorization header, under the
definitions' generation). The next identical request is answered with them *without routing it through
FastAPI*: parsing nine query parameters and solving the route's dependencies is most of a cached answer's
time (python bench/http_load.py). Nothing is skipped that could change the answer: the definitions are
refreshed (a new generation never matches), and the result must still be fresh in the result cache (its
TTL, the database files it read). Anything else falls through to the app.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .cache import FileState, ResultCache

__all__ = ["SERVING", "Answers", "Replay", "ReplayKey", "request_key"]

#: Answers longer than this are not kept (writing them is then what costs, not routing the request).
MAX_BODY = 64 * 1024
#: the scope key under which a GET /query left to the route carries the (project, generation) this middleware
#: refreshed for it: the route's ``caller`` takes it rather than looking at the files again
SERVING = "kpi_engine.serving"

ReplayKey = tuple[int, bytes, bytes]


def request_key(generation: int, scope: Scope) -> ReplayKey:
    """The request as sent, under a generation of the definitions; the Authorization header only as its
    digest, so no token is kept in memory beyond the request."""
    authorization = b"".join(value for name, value in scope.get("headers", ()) if name == b"authorization")
    return generation, scope.get("query_string", b""), hashlib.sha256(authorization).digest()


@dataclass(frozen=True)
class _Answer:
    cache_key: tuple  # the result cache's key of the result these bytes show
    kpis: tuple[str, ...]  # what the data state is taken for
    body: bytes
    media_type: str


class Answers:
    """The bytes of the last cached answer to each request as sent, most recent ``max_entries`` requests."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._answers: OrderedDict[ReplayKey, _Answer] = OrderedDict()
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._answers)

    def remember(self, key: ReplayKey, cache_key: tuple, kpis: list[str], body: bytes, media_type: str) -> None:
        if len(body) > MAX_BODY:
            return
        with self._lock:
            self._answers[key] = _Answer(cache_key, tuple(kpis), body, media_type)
            self._answers.move_to_end(key)
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)

    def get(self, key: ReplayKey) -> _Answer | None:
        with self._lock:
            return self._answers.get(key)

    def forget(self, key: ReplayKey) -> None:
        with self._lock:
            self._answers.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


#: Answers a plain GET /query without routing it (``plain_get``), given the project served and its generation;
#: None leaves the request to the app.
Direct = Callable[[Scope, Any, int], Awaitable["Response | None"]]


class Replay:
    """ASGI middleware: a ``GET {root}/query`` sent again byte for byte is answered from its last cached
    answer (``answers``, filled by the route) while that result is fresh in ``cache``; another one is
    handed to ``direct``, which answers it when its query string is plain."""

    def __init__(self, app: ASGIApp, *, answers: Answers, serving: Callable[[], tuple[Any, int]],
                 cache: ResultCache, data_state: Callable[[Any, list[str]], tuple[FileState, ...]],
                 direct: Direct | None = None) -> None:
        self.app = app
        self.answers = answers
        self.serving = serving
        self.cache = cache
        self.data_state = data_state
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET" and \
                scope.get("path") == scope.get("root_path", "") + "/query":
            project, generation = self.serving()  # refreshes the definitions: an edit is a new generation
            answer = self._fresh(scope, project, generation) if self.answers else None
            if answer is not None:
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-length", str(len(answer.body)).encode()),
                                        (b"content-type", answer.media_type.encode())]})
                await send({"type": "http.response.body", "body": answer.body})
                return
            response = await self.direct(scope, project, generation) if self.direct is not None else None
            if response is not None:
                await response(scope, receive, send)
                return
            scope[SERVING] = (project, generation)  # the route answers on the same project, refreshed once
        await self.app(scope, receive, send)

    def _fresh(self, scope: Scope, project: Any, generation: int) -> _Answer | None:
        """The kept answer to this request, if its result is still in the cache and fresh."""
        key = request_key(generation, scope)
        answer = self.answers.get(key)
        if answer is None:
            return None
        ttl = project.config.serve.cache_ttl
        if self.cache.get(answer.cache_key, ttl, self.data_state(project, list(answer.kpis))) is None:
            self.answers.forget(key)
            return None
        return answer
