"""Entry point: ``invoicesync-api``: the API on its port, /metrics on another."""

from __future__ import annotations

import asyncio

import uvicorn

from invoicesync_api.app import create_app, metrics_app
from invoicesync_api.http_limits import ProblemHttpProtocol
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.logging import configure_logging
from invoicesync_shared.tracing import configure_tracing


async def serve(settings: ApiSettings) -> None:
    api = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_level="warning",
            timeout_graceful_shutdown=10,
            http=ProblemHttpProtocol,
        )
    )
    metrics = uvicorn.Server(
        uvicorn.Config(
            metrics_app(),
            host=settings.api_host,
            port=settings.api_metrics_port,
            log_level="warning",
        )
    )
    # Each server re-raises the signal it caught when it stops, so one Ctrl-C stops both.
    await asyncio.gather(api.serve(), metrics.serve())


def main() -> None:
    settings = ApiSettings()
    configure_logging("api", settings.log_level, settings.log_json)
    configure_tracing("api", settings)
    asyncio.run(serve(settings))
