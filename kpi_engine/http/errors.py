"""Every error of the HTTP API as one JSON shape, ``{"error": {"code", "message", "file", "line", "column"}}``.

Which status an error gets is decided here, once: a bad query or parameter is 400 (never a framework's
422), an unknown KPI 404, a missing or wrong token 401, what a token may not use 403, a body or result
over its limit 413, a failed source 503, a query over its time limit 504. Anything else is a bug: a 500
with a generic message, its traceback in the server's log only, never in a body.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import (DefinitionError, EngineBugError, ErrorGroup, ForbiddenError, KpiError, QueryError,
                      QueryTimeoutError, SourceError)

__all__ = ["HttpError", "CatchAll", "error_body", "error_response", "install_handlers", "kpi_error_response",
           "status_of"]

logger = logging.getLogger("kpi_engine.http")

#: What a 500 says: the details (traceback, statement) are in the server's log only.
INTERNAL_MESSAGE = "internal error: the server's log has the details"


class HttpError(KpiError):
    """An error that only the HTTP API has (a token, a limit, a parameter), with its status."""

    def __init__(self, status: int, message: str, *, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.headers = headers or {}


def status_of(error: KpiError) -> int:
    """The HTTP status of a kpi_engine error (an ErrorGroup: that of its first error)."""
    if isinstance(error, ErrorGroup):
        error = error.errors[0]
    if isinstance(error, HttpError):
        return error.status
    if isinstance(error, ForbiddenError):
        return 403
    if isinstance(error, QueryTimeoutError):
        return 504
    if isinstance(error, SourceError):
        return 503
    if isinstance(error, EngineBugError):
        return 500
    if isinstance(error, QueryError):
        return 404 if error.code == "unknown-kpi" else 400
    if isinstance(error, DefinitionError):
        return 503  # found while running: the data does not match the definitions (a column is missing)
    return 500


def error_body(code: str, message: str, file: str | None = None, line: int | None = None,
               column: int | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "file": file, "line": line, "column": column}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def kpi_error_response(request: Request, error: Exception) -> JSONResponse:
    """A kpi_engine error as its answer (also for a request answered without routing, ``plain_get``)."""
    assert isinstance(error, KpiError)
    status = status_of(error)
    if status == 500:  # an engine bug: its statement goes to the log, not to the caller
        logger.error("%s %s failed:\n%s", request.method, request.url.path, error.render())
        return error_response(500, "internal", INTERNAL_MESSAGE)
    headers = error.headers if isinstance(error, HttpError) else None
    return JSONResponse(error_body(error.code, error.message, error.file, error.line, error.column),
                        status_code=status, headers=headers)


def _http_exception(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own errors (no such path, wrong method) in our shape."""
    assert isinstance(error, HTTPException)
    status = error.status_code
    if status == 404:
        return error_response(404, "not-found", f"no such endpoint: {request.method} {request.url.path}")
    if status == 405:
        return error_response(405, "method-not-allowed", f"{request.method} is not allowed on {request.url.path}",
                              headers=error.headers)
    message = error.detail if isinstance(error.detail, str) else "bad request"
    return error_response(status, "bad-request" if status == 400 else f"http-{status}", message, headers=error.headers)


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    """A parameter or body pydantic refused: 400 with one message about the first problem."""
    assert isinstance(error, RequestValidationError)
    problems = list(error.errors())
    code = "bad-body" if problems and problems[0].get("loc", ("",))[0] == "body" else "bad-parameter"
    return error_response(400, code, validation_message(problems[0]) if problems else "bad request")


def validation_message(problem: dict[str, Any]) -> str:
    """pydantic's error about a parameter or a body field, said for the API's user."""
    loc = tuple(problem.get("loc", ()))
    place, path = (loc[0], loc[1:]) if loc and loc[0] in ("query", "body", "path", "header") else ("", loc)
    name = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))
    kind = problem.get("type", "")
    value = _shown(problem.get("input"))
    if kind == "json_invalid":
        return f"the body is not valid JSON: {problem.get('ctx', {}).get('error', 'cannot be read')}"
    if kind == "value_error":  # our own validators say it all
        message = str(problem.get("msg", "invalid"))
        return message[len("Value error, "):] if message.startswith("Value error, ") else message
    if not name:
        return ("the body must be a JSON object, sent as application/json" if place == "body"
                else str(problem.get("msg", "bad request")))
    if kind == "missing":
        return f"{name} is required" + (": name at least one KPI" if name in ("kpi", "kpis") else "")
    if kind.startswith("date"):
        return f"{name} {value} is not a date; write it as YYYY-MM-DD"
    if kind.startswith("bool"):
        return f"{name} must be true or false; got {value}"
    if kind == "literal_error":
        expected = str(problem.get("ctx", {}).get("expected", "")).replace("'", "")
        return f"{name} must be {expected}; got {value}"
    if kind == "too_short":
        return f"{name} must not be empty" + (": name at least one KPI" if name in ("kpi", "kpis") else "")
    if kind == "list_type":
        return f"{name} must be a list; got {value}"
    if kind == "string_type":
        return f"{name} must be text; got {value}"
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return f"{name} must be a JSON object; got {value}"
    return f"{name}: {problem.get('msg', 'invalid')}"


def _shown(value: Any) -> str:
    """A value the caller sent, for a message: short, and never more than what they sent."""
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "...'"


def install_handlers(app: Any) -> None:
    app.add_exception_handler(KpiError, kpi_error_response)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)


class CatchAll:
    """ASGI middleware: an unexpected exception becomes a 500 with a generic message, and its traceback
    goes to the log (``kpi_engine.http``), never to the caller. It is caught here, inside the app, so a
    host app that mounts this one sees an answer, not an exception."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            logger.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise
            await error_response(500, "internal", INTERNAL_MESSAGE)(scope, receive, send)
