"""Limits on the request head, answered like every other error: problem+json.

A URL longer than ``max_url_bytes`` is 414 and more than ``max_headers`` header fields is
431, before any route runs. A head the HTTP parser itself cannot take (far larger, or
malformed) is refused by the server; its plain-text 400 is replaced by a problem too.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from invoicesync_api.errors.problem import problem, problem_body
from invoicesync_api.i18n.catalog import N_, render
from invoicesync_api.i18n.middleware import language_of

UNPARSABLE = problem_body(
    400,
    "bad_request",
    "Bad request",
    "The request could not be read as HTTP (the URL or the headers are too large, or malformed).",
    "",
)


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_url_bytes: int, max_headers: int) -> None:
        self.app = app
        self.max_url_bytes = max_url_bytes
        self.max_headers = max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            url_bytes = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
            if url_bytes > self.max_url_bytes:
                response = problem(
                    414,
                    "uri_too_long",
                    render(language_of(scope), N_("URI too long")),
                    render(
                        language_of(scope),
                        N_(
                            "The URL is longer than {max_bytes} bytes; send filters in fewer "
                            "or shorter parameters."
                        ),
                        {"max_bytes": self.max_url_bytes},
                    ),
                    scope["path"][:200],
                )
                await response(scope, receive, send)
                return
            if len(scope["headers"]) > self.max_headers:
                response = problem(
                    431,
                    "request_header_fields_too_large",
                    render(language_of(scope), N_("Request header fields too large")),
                    render(
                        language_of(scope),
                        N_("The request has {count} header fields; at most {max} are accepted."),
                        {"count": len(scope["headers"]), "max": self.max_headers},
                    ),
                    scope["path"][:200],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ProblemHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, whose answer to an unreadable request is problem+json."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps(UNPARSABLE).encode()
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"content-type: application/problem+json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
