"""Unknown ``/v1`` paths and wrong methods: 404 / 405 with Lexware's error body.

Without this, FastAPI would answer ``{"detail": "Not Found"}``, a body the real API never
sends. Registered last, so it only sees what no other route took.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.routing import Match

from invoicesync_sandbox.lexware.errors import LexwareError, render

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _allowed_methods(api: APIRouter, request: Request, rest: str) -> set[str]:
    """Methods of the ``api`` routes whose path matches (Starlette's partial match)."""
    scope = {**request.scope, "path": f"/v1/{rest}", "root_path": ""}
    allowed: set[str] = set()
    for route in api.routes:
        if route.matches(scope)[0] is Match.PARTIAL:
            allowed |= set(getattr(route, "methods", None) or ())
    return allowed


def register(router: APIRouter, api: APIRouter) -> None:
    """Add the catch-all to ``router``, after ``api`` (the ``/v1`` routes) was included."""

    @router.api_route("/v1/{rest:path}", methods=METHODS, include_in_schema=False)
    async def unknown(request: Request, rest: str) -> Response:
        allowed = _allowed_methods(api, request, rest)
        if allowed:
            error = LexwareError(
                405,
                f"Request method '{request.method}' is not supported.",
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        else:
            error = LexwareError(404, "No resource found for this path.")
        return render(request, error)
