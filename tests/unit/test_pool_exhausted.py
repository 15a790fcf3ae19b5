"""A request that finds no free database connection within the pool's wait is a load
peak: it answers 503 ``busy`` with Retry-After in the reader's language, never a 500."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import TimeoutError as PoolTimeout

from invoicesync_api.errors.handlers import install_error_handlers
from invoicesync_api.i18n.middleware import Languages


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(Languages)

    @app.get("/v1/clients")
    async def clients() -> None:
        # what SQLAlchemy's QueuePool raises after pool_timeout
        raise PoolTimeout("QueuePool limit of size 20 overflow 20 reached, timed out")

    return app


async def test_no_free_connection_is_busy_with_retry_after() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        answer = await client.get("/v1/clients", headers={"Accept-Language": "de"})
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"] == "1"
    body = answer.json()
    assert body["code"] == "busy" and body["instance"] == "/v1/clients"
    assert body["detail"].startswith("Der Dienst ist gerade zu ausgelastet")
