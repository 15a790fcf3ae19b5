"""Run an ASGI app on a real port in a background thread (real HTTP in tests), and the
settings of a sandbox served that way."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from invoicesync_devstack.ports import free_port as free_port
from invoicesync_sandbox.settings import SandboxSettings

# Where the sandbox sends the user back after consent; nothing listens (tests read the
# redirect's Location instead of following it).
TEST_REDIRECT_URI = "http://127.0.0.1:9/v1/oauth/callback"


def sandbox_config(**overrides: Any) -> SandboxSettings:
    """A sandbox for one test module: a free port, consent auto-approved, short fault
    hangs; ``overrides`` as settings fields (rate limits, say)."""
    defaults: dict[str, Any] = {
        "port": free_port(),
        "auto_approve": True,
        "fault_hang_seconds": 2.0,
        "redirect_uri": TEST_REDIRECT_URI,
    }
    return SandboxSettings(**{**defaults, **overrides})


@contextmanager
def serve_in_thread(
    app: ASGIApp, port: int | None = None, *, http: type[asyncio.Protocol] | None = None
) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yields its base URL. ``http``: the
    HTTP protocol class, as a service's entry point chooses it."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    if http is not None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=http)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
