"""The accountant's console: server-rendered pages under ``/console`` (issue 23)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from invoicesync_api.console import document_history, integrations_pages, webhooks_pages
from invoicesync_api.console.router import router

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """The console's pages and its static files (htmx vendored, no network needed)."""
    app.include_router(router)
    app.include_router(integrations_pages.router)
    app.include_router(webhooks_pages.router)
    app.include_router(document_history.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
