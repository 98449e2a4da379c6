"""The HTTP API: ``create_app(project)`` is an ASGI app (FastAPI) that ``kpi serve`` runs and that another
ASGI app may mount under a prefix.

Every request first refreshes the project (``kpi_engine.live``: definitions edited on disk are picked up),
then, except /health, authenticates the caller (``auth``); the routes below only translate between
HTTP and the Python API (``Project.query``, ``compile``, ``describe``, ``dimensions``). Queries go
through the result cache (``cache``) and the limits (``limits``); every error leaves as one JSON shape
(``errors``).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, some of them local names.
import asyncio
import csv
import datetime as dt
import functools
import io
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from .. import __version__
from ..errors import KpiError, unknown
from ..live import LiveProject
from ..project import Project
from ..result import Result, query_body
from ..timezones import check_zone
from .auth import Access, authenticate
from .cache import FileState, ResultCache, file_state
from .cors import LiveCors
from .dashboard import router as dashboard_router
from .errors import INTERNAL_MESSAGE, CatchAll, HttpError, error_body, install_handlers, kpi_error_response, logger
from .limits import DEFAULT_MAX_BODY, BodyLimit, check_kpis, check_rows
from .plain_get import plain_query
from .recycle import Recycler
from .replay import SERVING, Answers, Replay, request_key
from .models import (CompileRequest, CompileResult, Dimension, ErrorBody, Health, KpiDetail, KpiInfo, QueryRequest,
                     QueryResult)

__all__ = ["Caller", "create_app"]

#: The bearer scheme as /openapi.json documents it (``caller`` checks the token: a FastAPI security dependency
#: would cost every request a tenth of a millisecond for the document's sake).
BEARER = {"type": "http", "description": "A token of serve.tokens in kpi.yml (when it lists any).", "scheme": "bearer"}

_ERRORS: dict[int, str] = {
    400: "A bad query or parameter.",
    401: "A token is needed, or the one sent is not valid.",
    403: "A KPI or dimension this token may not use.",
    404: "An unknown KPI.",
    413: "The request body, or the result, is over its limit.",
    500: "A bug: the server's log has the details.",
    503: "The data source failed.",
    504: "The query ran over serve.timeout and was cancelled.",
}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody, "description": _ERRORS[code]} for code in codes}


@dataclass(frozen=True)
class Caller:
    """One request's project (as refreshed for it) and who is asking."""

    project: Project
    access: Access
    generation: int


def create_app(project: Project, *, watch: bool = True, require_tokens: bool = False,
               max_body_bytes: int = DEFAULT_MAX_BODY, cache_entries: int = 256) -> FastAPI:
    """The HTTP API of ``project``.

    ``watch``: reload the definitions when their files change (on by default). ``require_tokens``: refuse
    a reload that removes ``serve.tokens`` (``kpi serve`` sets it when listening beyond the loopback
    interface). ``max_body_bytes`` bounds a request body; ``cache_entries`` the result cache.
    """
    cache = ResultCache(cache_entries)
    queries = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="kpi_engine query")
    described: dict[tuple[int, str], dict[str, Any]] = {}
    documents: dict[bool, dict[str, Any]] = {}  # the OpenAPI document, with and without tokens

    answers = Answers(cache_entries)
    recycler = Recycler()

    def changed(_: Project) -> None:
        cache.clear()
        answers.clear()
        described.clear()

    live = LiveProject(project, watch=watch, require_tokens=require_tokens, on_change=changed)
    data = _DataWatch()
    app = FastAPI(title=f"kpi_engine: {project.name}", version=__version__, openapi_url=None, docs_url=None,
                  redoc_url=None, description="KPIs defined in YAML, computed on request.")
    app.state.live = live
    app.state.cache = cache
    install_handlers(app)

    async def direct(scope: Scope, current: Project, generation: int) -> Response | None:
        """A plain ``GET /query`` (``plain_get``) answered as the route answers it, without its routing; a
        caller the token refuses is left to the route too (its 401 and header)."""
        asked = plain_query(scope.get("query_string", b""))
        if asked is None:
            return None
        header = next((value.decode("latin-1") for name, value in scope.get("headers", ())
                       if name == b"authorization"), None)
        try:
            access = authenticate(header, current.config.serve.tokens)
        except KpiError:
            return None
        try:
            return await run(Caller(current, access, generation), asked, scope)
        except KpiError as error:
            return kpi_error_response(Request(scope), error)

    app.add_middleware(Replay, answers=answers, serving=live.serving, cache=cache, data_state=data.state,
                       direct=direct)
    app.add_middleware(CatchAll)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(LiveCors, origins=lambda: tuple(live.project.config.serve.cors_origins))

    async def caller(request: Request) -> Caller:
        """Who calls, on the project as it is now; then the names of the query parameters are checked (after
        the token, so a caller without one learns nothing): a misspelt one is an error, not ignored.

        Run on the event loop, not in a worker thread: it stats a few files, which costs less than the hop
        to a thread (a reload, rare, holds the loop while the project loads)."""
        served = request.scope.get(SERVING)
        current, generation = served if served is not None else live.serving()
        access = authenticate(request.headers.get("authorization"), current.config.serve.tokens)
        _check_parameter_names(request)
        return Caller(current, access, generation)

    Called = Annotated[Caller, Depends(caller)]

    router = APIRouter()  # every route but /health needs the token when there are tokens (``caller``)

    def describe(call: Caller, name: str) -> dict[str, Any]:
        key = (call.generation, name)
        if key not in described:
            described[key] = call.project.describe(name)
        return described[key]

    # ------------------------------------------------------------------ health
    @app.get("/health", response_model=Health, response_model_exclude_unset=True, tags=["health"],
             summary="Is the API serving, and are its definitions and sources well")
    def health(request: Request) -> Health:
        try:
            return _health(live, request.headers.get("authorization"))
        except Exception:  # /health answers 200 whatever happens: the details go to the log
            logger.exception("GET /health failed")
            problem = error_body("internal", INTERNAL_MESSAGE)["error"]
            return Health(status="degraded", kpis=0, sources={}, errors=[problem])

    # -------------------------------------------------------------------- KPIs
    @router.get("/kpis", response_model=list[KpiInfo], responses=_responses(400, 401, 500), tags=["kpis"],
                summary="The KPIs this caller may query")
    def list_kpis(call: Called, show_all: Annotated[bool, Query(alias="all", description="Include hidden helper KPIs.")]
                  = False) -> list[dict[str, Any]]:
        names = call.access.visible(call.project.kpis.values(), hidden=show_all)
        return [_info(describe(call, name)) for name in names]

    @router.get("/kpis/{name}", response_model=KpiDetail, responses=_responses(400, 401, 403, 404, 500),
                tags=["kpis"], summary="One KPI, with its formula and the KPIs it uses")
    def one_kpi(call: Called, name: str) -> dict[str, Any]:
        call.access.check([name], call.project.kpis)
        return describe(call, name)

    @router.get("/dimensions", response_model=list[Dimension], responses=_responses(400, 401, 500), tags=["kpis"],
                summary="The dimensions, and which KPIs each applies to")
    def dimensions(call: Called, show_all: Annotated[bool, Query(alias="all", description="Count hidden KPIs too.")]
                   = False) -> list[dict[str, Any]]:
        names = call.access.visible(call.project.kpis.values(), hidden=show_all)
        return call.project.dimensions(names) if names else []

    # ------------------------------------------------------------------- query
    query_responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/csv": {"schema": {"type": "string"}}},
              "description": "The result: JSON, or CSV with format=csv."},
        **_responses(400, 401, 403, 404, 413, 500, 503, 504)}

    @router.get("/query", response_model=QueryResult, responses=query_responses, tags=["query"],
                summary="Compute KPIs")
    async def query_get(
        request: Request,
        call: Called,
        kpi: Annotated[list[str], Query(min_length=1, description="A KPI name (repeat for several).")],
        grain: Annotated[str, Query(description="day, week, month, quarter, year, ... or all.")] = "month",
        by: Annotated[list[str], Query(description="A dimension to break down by (repeatable).")] = [],  # noqa: B006
        where: Annotated[str | None, Query(description="A condition over dimensions.")] = None,
        start: Annotated[dt.date | None, Query(alias="from", description="First day, inclusive.")] = None,
        end: Annotated[dt.date | None, Query(alias="to", description="Last day, inclusive.")] = None,
        timezone: Annotated[str | None, Query(description="IANA time zone of the periods.")] = None,
        status: Annotated[bool, Query(description="Add KPI__status after each KPI with a target.")] = False,
        format: Annotated[Literal["json", "csv"], Query(description="json, or csv for text/csv.")] = "json",
    ) -> Response:
        asked = QueryRequest.model_construct(kpis=kpi, grain=grain, by=by, where=where, from_=start, to=end,
                                             timezone=timezone, status=status, format=format)
        return await run(call, asked, request.scope)

    @router.post("/query", response_model=QueryResult, responses=query_responses, tags=["query"],
                 summary="Compute KPIs (the query as a JSON body)")
    async def query_post(call: Called, body: QueryRequest) -> Response:
        return await run(call, body)

    async def run(call: Caller, asked: QueryRequest, scope: Scope | None = None) -> Response:
        """A cached answer is found and written on the event loop; a query runs in a worker thread (it waits
        on the engine), and so does writing a large result. The bytes of a cached answer to a GET are kept
        for the next identical request (``replay``)."""
        lookup = _lookup(call, asked, cache, data)
        cached = lookup.result is not None
        if not cached:
            result = await asyncio.get_running_loop().run_in_executor(queries, _compute, call, lookup, cache,
                                                                        recycler)
        else:
            result = lookup.result
        if len(result.rows) > RENDER_ON_LOOP:
            return await run_in_threadpool(_render, result, asked, cached)
        response = _render(result, asked, cached)
        if cached and scope is not None:
            answers.remember(request_key(call.generation, scope), lookup.key, lookup.kpis, response.body,
                             response.headers["content-type"])
        return response

    @router.post("/compile", response_model=CompileResult, responses=_responses(400, 401, 403, 404, 413, 500),
                 tags=["query"], summary="The SQL of a query, without running it")
    def compile_sql(call: Called, body: CompileRequest) -> dict[str, str]:
        project = call.project
        check_kpis(body.kpis, project.config.serve.max_kpis)
        call.access.check(body.kpis, project.kpis)
        options = _options(body, call.access)
        return {"sql": project.compile(body.kpis, dialect=body.dialect, **options)}

    # ------------------------------------------------------------ the document
    @router.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request, call: Called) -> JSONResponse:
        document = _document(app, bool(call.project.config.serve.tokens), documents)
        root = request.scope.get("root_path")
        if root:
            document["servers"] = [{"url": root}]
        return JSONResponse(document)

    app.include_router(dashboard_router)  # GET /: the live dashboard (no token: the page holds no data)
    app.include_router(router)
    app.openapi = functools.partial(_document, app, True, documents)  # type: ignore[method-assign]
    return app


# ====================================================================== the pieces
def _query_parameters(dependant: Any) -> list[str]:
    """The query parameters a route declares, its dependencies' included."""
    names = [field.alias for field in dependant.query_params]
    for sub in dependant.dependencies:
        names += [name for name in _query_parameters(sub) if name not in names]
    return names


def _check_parameter_names(request: Request) -> None:
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = getattr(route, "_kpi_parameters", None)
    if known is None:  # listed once per route
        known = _query_parameters(dependant)
        route._kpi_parameters = known  # type: ignore[union-attr]
    for name in request.query_params:
        if name not in known:
            message = unknown("parameter", name, known, otherwise=f" (expected {', '.join(known)})" if known else
                              " (this endpoint takes none)")
            raise HttpError(400, message, code="bad-parameter")


def _info(described: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in described.items() if k not in ("formula", "filter", "uses")}


def _options(asked: QueryRequest | CompileRequest, access: Access) -> dict[str, Any]:
    """The keyword arguments of ``Project.query``/``compile`` for a request, the caller's filters included."""
    return {"grain": asked.grain, "by": tuple(asked.by), "where": asked.where, "start": asked.from_, "end": asked.to,
            "filters": access.filters, "timezone": _zone(asked.timezone)}


def _zone(name: str | None) -> str | None:
    """The query's time zone; a bad one is a 400 that names the parameter, with the nearest zone."""
    if name is None or not name.strip():
        return None
    problem = check_zone(name.strip())
    if problem is not None:
        raise HttpError(400, f"timezone: {problem}", code="bad-timezone")
    return name.strip()


#: Queries run at once, in the app's worker threads; the others wait their turn without holding the GIL.
#: Compiling a query is Python, so threads compiling at once mostly wait for each other, and each one keeps
#: the event loop (cached answers) waiting for the GIL: with sixteen, a cached answer took 80 ms; with one
#: per two cores its p99 under 16 clients on 2 cores is 26-41 ms, 44-58 ms with one per core (python
#: bench/http_load.py). The engine runs each query on every core; more processes: kpi serve --workers.
QUERY_THREADS = max(1, (os.cpu_count() or 2) // 2)

#: Results of more rows than this are written to JSON or CSV in a worker thread, not on the event loop.
RENDER_ON_LOOP = 2000


@dataclass(frozen=True)
class _Lookup:
    """A query checked and looked up in the cache: what running it needs, and the cached result if any."""

    kpis: list[str]
    options: dict[str, Any]
    key: tuple
    state: tuple[FileState, ...]
    result: Result | None


def _lookup(call: Caller, asked: QueryRequest, cache: ResultCache, data: "_DataWatch") -> _Lookup:
    """The query checked (its KPIs, the caller's access, its options), and its fresh cached result if any."""
    project = call.project
    serve = project.config.serve
    check_kpis(asked.kpis, serve.max_kpis)
    call.access.check(asked.kpis, project.kpis)
    options = _options(asked, call.access)
    key = (call.generation, call.access.name, tuple(asked.kpis), *options.values())
    state = data.state(project, asked.kpis)
    return _Lookup(list(asked.kpis), options, key, state, cache.get(key, serve.cache_ttl, state))


def _compute(call: Caller, lookup: _Lookup, cache: ResultCache, recycler: Recycler) -> Result:
    """Run the query (within serve.timeout), refuse a result over serve.max_rows, and cache it."""
    serve = call.project.config.serve
    with recycler.running(call.project):
        result = call.project.query(lookup.kpis, timeout=serve.timeout, **lookup.options)
    check_rows(len(result.rows), serve.max_rows)
    cache.put(lookup.key, result, serve.cache_ttl, lookup.state)
    return result


def _render(result: Result, asked: QueryRequest, cached: bool) -> Response:
    shown = result.with_status() if asked.status else result
    if asked.format == "csv":
        return Response(_csv(shown), media_type="text/csv; charset=utf-8")
    return Response(_json(query_body(shown, cached=cached)), media_type="application/json")


class _DataWatch:
    """The state of the database files queries read, to tell the cache when one changed; a DuckDB file that
    changed is also reopened (a handle open on a replaced file would go on reading the old one)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[FileState, ...]] = {}

    def state(self, project: Project, kpis: list[str]) -> tuple[FileState, ...]:
        states = []
        for source in project.sources.by_source(project.binder, kpis):
            connector = project.connectors.get(source)
            path = getattr(connector, "path", None) if connector is not None else None
            if connector is None or connector.name not in ("duckdb", "sqlite") or not isinstance(path, Path):
                continue
            state = file_state(path)
            seen = self._seen.get(str(path))
            self._seen[str(path)] = state
            if seen is not None and seen != state and connector.name == "duckdb":
                project.close()
            states.append(state)
        return tuple(states)


def _json(body: dict[str, Any]) -> bytes:
    """JSON as ``kpi run --format json`` writes it (numbers as numbers, null as null); a value JSON cannot
    hold (NaN, infinity) is null."""
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":"))
    except ValueError:
        body = dict(body, rows=[{k: None if isinstance(v, float) and not math.isfinite(v) else v
                                 for k, v in row.items()} for row in body["rows"]])
        text = json.dumps(body, ensure_ascii=False, allow_nan=False, default=str, separators=(",", ":"))
    return text.encode("utf-8")


def _csv(result: Result) -> str:
    """CSV as ``kpi run --format csv`` writes it: a header, raw values, null as an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows(["" if v is None else v for v in row] for row in result.rows)
    return buffer.getvalue()


def _health(live: LiveProject, authorization: str | None) -> Health:
    """Always an answer: the served project's KPIs for this caller, each source's state, what is wrong."""
    project = live.refresh()
    access = authenticate(authorization, project.config.serve.tokens, required=False)
    sources = {name: _source_state(project, name) for name in project.connectors}
    errors = [error_body(e.code, e.message, e.file, e.line, e.column)["error"] for e in live.errors]
    errors += [error_body("source", state)["error"] for state in sources.values() if state != "ok"]
    fields: dict[str, Any] = {"errors": errors} if errors else {}  # absent while all is well
    return Health(status="degraded" if errors else "ok", kpis=len(access.visible(project.kpis.values())),
                  sources=sources, **fields)


def _source_state(project: Project, name: str) -> str:
    try:
        project.connection(name).execute("SELECT 1")
    except KpiError as error:
        return error.message
    except Exception as error:  # a connector's bug: say which kind, the details go to no one
        return f"source '{name}': failed ({type(error).__name__})"
    return "ok"


def _document(app: FastAPI, secured: bool, built: dict[bool, dict[str, Any]]) -> dict[str, Any]:
    """The OpenAPI document: every error as ``ErrorBody``; FastAPI's 422, which this API never answers (a bad
    parameter is a 400), removed. ``secured``: the operations require the bearer token (the project has
    tokens); else they require nothing. Each variant is built once per app."""
    if secured not in built:
        built[secured] = _build_document(app, secured)
    return dict(built[secured])


def _build_document(app: FastAPI, secured: bool) -> dict[str, Any]:
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
            if not secured:
                operation.get("responses", {}).pop("401", None)
            elif path != "/health":
                operation["security"] = [{"HTTPBearer": []}]
    components = document.setdefault("components", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(name, None)
    if secured:
        components["securitySchemes"] = {"HTTPBearer": dict(BEARER)}
    return document

