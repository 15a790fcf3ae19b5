"""The sandbox with a call log, so benchmarks count calls, 429s and documents from the
accounting systems' side: ``python -m bench.counting_sandbox`` (settings from the
environment, as ``invoicesync-sandbox``). ``GET /_bench/calls`` lists every answered call
outside ``/_sandbox`` and ``/_bench`` as ``[arrival epoch, method, path, status, caller]``
(caller: a short digest of the Authorization header, which tells tenants apart where the
path does not, as Lexware's); ``DELETE /_bench/calls`` clears the log."""

from __future__ import annotations

import hashlib
import time

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invoicesync_sandbox.main import create_app
from invoicesync_sandbox.settings import SandboxSettings

Row = tuple[float, str, str, int, str]


def _caller(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return hashlib.blake2s(value, digest_size=6).hexdigest()
    return ""


class CallLog:
    """Pure ASGI middleware: records each call when its response starts."""

    def __init__(self, app: ASGIApp, rows: list[Row]) -> None:
        self.app = app
        self.rows = rows

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(("/_sandbox", "/_bench", "/healthz")):
            await self.app(scope, receive, send)
            return
        arrived = time.time()

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.rows.append((arrived, scope["method"], path, status, _caller(scope)))
            await send(message)

        await self.app(scope, receive, record)


def build(settings: SandboxSettings) -> FastAPI:
    app = create_app(settings)
    rows: list[Row] = []

    @app.get("/_bench/calls", include_in_schema=False)
    async def calls() -> list[Row]:
        return rows

    @app.delete("/_bench/calls", status_code=204, include_in_schema=False)
    async def clear() -> None:
        rows.clear()

    app.add_middleware(CallLog, rows=rows)
    return app


def main() -> None:
    settings = SandboxSettings()
    uvicorn.run(build(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
