"""The live dashboard at ``/``: the report's page, its numbers read by its own script from ``/query``.

The page holds no data, so it needs no token (the script sends the one the user pastes, kept in
sessionStorage); the dimension names are written into it only when the server has no tokens, else the
script asks ``/dimensions`` with the token. Its Content-Security-Policy allows its own script (by hash),
its inline styles and requests back to this server: nothing is loaded from anywhere else.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations.
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

__all__ = ["router"]

router = APIRouter()


@router.get("/", include_in_schema=False)
def dashboard(request: Request) -> HTMLResponse:
    from ..report.page import render_dashboard

    project = request.app.state.live.refresh()
    open_server = not project.config.serve.tokens
    dimensions = [d["name"] for d in project.dimensions()] if open_server else []
    page, policy = render_dashboard(project.name, dimensions)
    return HTMLResponse(page, headers={"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
                                       "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})
