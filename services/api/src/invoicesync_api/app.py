"""The API's composition root: ``create_app(settings)`` wires everything once."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invoicesync_api import console
from invoicesync_api.api_keys.router import router as api_keys_router
from invoicesync_api.callbacks.lexware import router as lexware_callbacks_router
from invoicesync_api.callbacks.signatures import LexwareSignatures
from invoicesync_api.clients.router import router as clients_router
from invoicesync_api.documents.accept_document import AcceptDocument
from invoicesync_api.documents.idempotency import IdempotencyKeys
from invoicesync_api.documents.router import (
    PURCHASE_ROUTES,
    document_router,
    purchase_document_router,
)
from invoicesync_api.errors.handlers import install_error_handlers
from invoicesync_api.errors.openapi import PROBLEM_RESPONSES, problem_media_types
from invoicesync_api.errors.problem import problem
from invoicesync_api.health import DependencyHealth, State
from invoicesync_api.http_limits import RequestLimits
from invoicesync_api.i18n.catalog import N_, load_all, render
from invoicesync_api.i18n.middleware import Languages, language_of
from invoicesync_api.integrations.lifecycle_router import router as lifecycle_router
from invoicesync_api.integrations.router import router as integrations_router
from invoicesync_api.notifications.router import router as notifications_router
from invoicesync_api.openapi import examples_as_written, scope_responses
from invoicesync_api.partners.profile_router import router as partner_profile_router
from invoicesync_api.partners.router import router as partners_router
from invoicesync_api.previews.router import preview_router
from invoicesync_api.rate_limits import Gcra, RateLimitHeaders, RateLimits
from invoicesync_api.rate_limits_openapi import rate_limits_documented
from invoicesync_api.reconciliations.router import router as reconciliations_router
from invoicesync_api.settings import ApiSettings
from invoicesync_api.sync.dead_letters import router as dead_letters_router
from invoicesync_api.sync.router import router as sync_runs_router
from invoicesync_api.webhooks.router import router as webhooks_router
from invoicesync_api.workers.background import BackgroundWorkers
from invoicesync_shared import clock, tracing
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from invoicesync_shared.metrics import HTTP_REQUESTS, HTTP_SECONDS, metrics_endpoint

DESCRIPTION = """Books invoices and credit notes into Exact Online, Lexware Office and Yuki,
and brings the booking number back.

Errors are RFC 9457 `application/problem+json` with a stable `code`. Amounts are decimal
strings. Authenticate with `Authorization: Bearer <api key>`.

**Rate limits:** each API key may send a burst of requests at once and a sustained rate
after it; every answer says where the key stands in `RateLimit-Policy` and `RateLimit`
(draft-ietf-httpapi-ratelimit-headers-11), and past the limit the answer is 429 with
`Retry-After`. Repeated failed authentication from one address is answered 429 too.

**Languages:** `Accept-Language` (q-values honoured) picks English, German, Dutch,
Spanish or French for everything a person reads — problem `title`/`detail`, field
messages, sync errors, notifications; without it the partner's default applies
(`PATCH /v1/partner`), which also writes webhook payloads' messages. `Content-Language`
names the language of each answer; `code`s, `type`s and `kind`s never change.

**Edits after a sync:** a PATCH of a document already synced to **Yuki** is pushed again,
and **cost centres and projects set on its lines in Yuki are reset** by that push. For
Exact Online and Lexware Office a synced document is final: the change is stored here but
not pushed, and the answer's `warnings` says so."""

# Not traced: probes and scrapes (noise), and the OAuth callback, whose query string holds
# the authorization code a span would record.
UNTRACED_URLS = "/healthz$,/readyz$,/metrics$,/v1/oauth/callback"


class RequestMetrics:
    """Counts requests by route template (bounded labels); plain ASGI, so it costs no
    extra task per request the way an ``@app.middleware("http")`` function does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_SECONDS.labels(scope["method"], route).observe(time.perf_counter() - started)


class BodySizeLimit:
    """Refuses bodies over the limit before they are read (413 problem+json)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        file_paths: frozenset[str] = frozenset(),
        file_max_bytes: int = 0,
    ) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.file_paths, self.file_max_bytes = file_paths, max(file_max_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            limit = self.file_max_bytes if scope["path"] in self.file_paths else self.max_bytes
            if length is not None and length.isdigit() and int(length) > limit:
                response = problem(
                    413,
                    "payload_too_large",
                    render(language_of(scope), N_("Payload too large")),
                    render(
                        language_of(scope),
                        N_("The body is larger than {max_bytes} bytes."),
                        {"max_bytes": limit},
                    ),
                    scope["path"],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def metrics_app() -> Starlette:
    """What Prometheus scrapes, served on its own port: never on the public one."""
    return Starlette(routes=[Route("/metrics", metrics_endpoint)])


def create_app(settings: ApiSettings) -> FastAPI:
    engine = create_engine(
        settings.database_url,
        application_name="invoicesync-api",
        pool_size=settings.database_pool_size,
    )
    sessionmaker = create_sessionmaker(engine)
    workers = BackgroundWorkers(settings, sessionmaker)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with clock.following(settings.clock_url, settings.env):
            if settings.run_workers:
                await workers.start()
            # What start-up made lives as long as the process: out of the collector's
            # sight, a full collection no longer walks it (pauses of ~100 ms per request
            # in a hundred, measured by make bench's growth).
            gc.freeze()
            try:
                yield
            finally:
                await workers.stop()
                await engine.dispose()

    app = FastAPI(title="invoicesync", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.box = SecretBox(settings.encryption_keys)
    health = DependencyHealth(
        settings, broker_ok=lambda: workers.broker_ok() if settings.run_workers else None
    )
    app.state.health = health
    app.state.accept_document = AcceptDocument(
        engine,
        IdempotencyKeys(engine, sessionmaker, settings.idempotency_in_flight_seconds),
        max_days_ahead=settings.document_max_days_ahead,
    )
    app.state.rate_limits = RateLimits(
        engine,
        Gcra(settings.rate_limit_per_minute, settings.rate_limit_burst),
        Gcra(settings.auth_failures_per_minute, settings.auth_failures_burst),
    )
    app.state.webhook_settings = settings.webhooks
    app.state.lexware_signatures = LexwareSignatures(
        settings.lexware_webhook_public_key, settings.lexware_webhook_public_key_url
    )
    load_all()  # a broken catalogue stops the start, not a request
    install_error_handlers(app)
    for router in (
        partners_router,
        partner_profile_router,
        clients_router,
        integrations_router,
        lifecycle_router,
        sync_runs_router,
        reconciliations_router,
        notifications_router,
        webhooks_router,
        api_keys_router,
        dead_letters_router,
        lexware_callbacks_router,
        preview_router("invoice", "/v1/invoices", "invoices"),
        preview_router("credit_note", "/v1/credit-notes", "credit notes"),
        document_router("invoice", "/v1/invoices", "invoices"),
        document_router("credit_note", "/v1/credit-notes", "credit notes"),
        *(purchase_document_router(kind, path, tag) for kind, path, tag in PURCHASE_ROUTES),
    ):
        app.include_router(router, responses=PROBLEM_RESPONSES)
    console.install(app)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        # A purchase document's POST carries its file (base64: 4 bytes per 3) besides the body.
        file_paths=frozenset(path for _, path, _ in PURCHASE_ROUTES),
        file_max_bytes=settings.max_body_bytes + -(-settings.purchase_file_max_bytes // 3) * 4,
    )
    app.add_middleware(
        RequestLimits, max_url_bytes=settings.max_url_bytes, max_headers=settings.max_header_fields
    )
    app.add_middleware(Languages)  # outside the limits: their refusals are translated too
    app.add_middleware(RequestMetrics)
    # A no-op unless the process installed a tracer provider (configure_tracing).
    if tracing.is_enabled():  # off by default: no middleware cost without an exporter
        FastAPIInstrumentor.instrument_app(app, excluded_urls=UNTRACED_URLS)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = examples_as_written(app, problem_media_types(FastAPI.openapi(app)))
            app.openapi_schema = rate_limits_documented(scope_responses(app, document))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Ready when this replica can serve: its database answers. Connectors and the
        broker are reported on /healthz/dependencies, never by failing the API."""
        ready = await _database_ok(engine)
        return JSONResponse(
            {"ready": ready, "checks": {"database": ready}}, status_code=200 if ready else 503
        )

    @app.get("/healthz/dependencies", include_in_schema=False)
    async def dependencies() -> dict[str, State]:
        return await health.summary()

    return app


async def _database_ok(engine: object) -> bool:
    try:
        async with engine.connect() as conn:  # type: ignore[attr-defined]
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
