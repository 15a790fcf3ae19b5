"""A read-only page of one booked entry, as a person would open it in the accounting
system's web app: the console's "open in the accounting system" links here under the
sandbox, which has no web app of its own."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse


def entry_page(
    title: str, fields: list[tuple[str, object]], status_code: int = 200
) -> HTMLResponse:
    rows = "".join(
        f"<tr><th scope='row'>{escape(name)}</th><td>{escape(str(value))}</td></tr>"
        for name, value in fields
    )
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body><main><h1>{escape(title)}</h1>"
        f"<table id='entry'>{rows}</table></main></body></html>"
    )
    return HTMLResponse(body, status_code=status_code)


def missing_page(title: str) -> HTMLResponse:
    """The entry is not (or no longer) there: deleted by a bookkeeper, or never booked."""
    return entry_page(title, [("Status", "Not found: deleted or never booked")], 404)
