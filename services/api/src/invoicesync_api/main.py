"""Entry point: ``invoicesync-api``."""

from __future__ import annotations

import uvicorn

from invoicesync_api.app import create_app
from invoicesync_api.settings import ApiSettings
from invoicesync_shared.logging import configure_logging
from invoicesync_shared.tracing import configure_tracing


def main() -> None:
    settings = ApiSettings()
    configure_logging("api", settings.log_level, settings.log_json)
    configure_tracing("api", settings)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
