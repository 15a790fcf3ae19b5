"""Running a connector process: consumer, producer, health and metrics endpoints."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from invoicesync_shared import clock
from invoicesync_shared.bus.consumer import EventConsumer, OrderScope
from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.connectors.errors import AuthorizationLost, PermanentError, SyncError
from invoicesync_shared.connectors.result_relay import ResultRelay
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.events import topics
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.metrics import metrics_endpoint

log = structlog.get_logger()
LOOP_GRACE_SECONDS = 5.0


Refresh = Callable[[uuid.UUID], Awaitable[int | None]]


def refresh_route(refresh: Refresh) -> Route:
    """``POST /integrations/{id}/refresh``: read back now what changed remotely (numbers
    given to drafts, payments, deleted entries) instead of at the next round; the API
    calls it when a user asks, or when the accounting system says something changed."""

    async def endpoint(request: Request) -> JSONResponse:
        try:
            integration_id = uuid.UUID(request.path_params["integration_id"])
        except ValueError:
            return JSONResponse({"code": "not_found", "message": "No such integration."}, 404)
        emitted = await refresh(integration_id)
        if emitted is None:
            return JSONResponse(
                {
                    "code": "not_refreshable",
                    "message": "Not an active integration of this connector, or a refresh "
                    "of it is running.",
                },
                status_code=409,
            )
        return JSONResponse({"ok": True, "results_emitted": emitted})

    return Route("/integrations/{integration_id}/refresh", endpoint, methods=["POST"])


def preview_route(runtime: ConnectorRuntime[Any]) -> Route:
    """``POST /integrations/{id}/preview``: what a push of the document in the body (the
    snapshot a sync request would carry) would send and meet; read-only."""

    async def endpoint(request: Request) -> JSONResponse:
        """The body is the document snapshot a sync request would carry."""
        try:
            integration_id = uuid.UUID(request.path_params["integration_id"])
            document = DocumentSnapshot.model_validate_json(await request.body())
        except ValueError as exc:  # a ValidationError is one
            return JSONResponse({"code": "invalid_request", "message": str(exc)}, 422)
        try:
            answer = await runtime.preview(integration_id, document)
        except PermanentError as exc:
            return JSONResponse({"code": exc.code, "message": exc.message}, status_code=404)
        return JSONResponse(answer.to_json())

    return Route("/integrations/{integration_id}/preview", endpoint, methods=["POST"])


def _refusal(exc: PermanentError) -> dict[str, object]:
    """A refused check; a lost grant by its stable reason (and what the reason's text
    names), so the API words it in the reader's language."""
    if isinstance(exc, AuthorizationLost):
        return {"code": exc.reason, "message": exc.message, "params": exc.params}
    return {"code": exc.code, "message": exc.message}


def control_app(
    engine: AsyncEngine,
    consumer: EventConsumer,
    runtime: ConnectorRuntime[Any],
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Health, metrics, the verification the API asks for at connect time, the preview
    it asks for before a document is sent, and any routes of the connector's own (e.g. an
    on-demand refresh)."""

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        if not consumer.is_running:
            return JSONResponse({"status": "consumer not running"}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def verify(request: Request) -> JSONResponse:
        try:
            integration_id = uuid.UUID(request.path_params["integration_id"])
        except ValueError:
            return JSONResponse({"code": "not_found", "message": "No such integration."}, 404)
        try:
            details = await runtime.verify(integration_id)
        except PermanentError as exc:
            return JSONResponse(_refusal(exc), status_code=422)
        except SyncError as exc:
            return JSONResponse({"code": "unavailable", "message": str(exc)}, status_code=503)
        except Exception:
            log.exception("verification failed", integration_id=str(integration_id))
            return JSONResponse(
                {"code": "verification_failed", "message": "The connector failed to check it."},
                status_code=500,
            )
        return JSONResponse({"ok": True, "details": details})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/integrations/{integration_id}/verify", verify, methods=["POST"]),
            preview_route(runtime),
            *extra_routes,
            Route("/metrics", metrics_endpoint),
        ]
    )


class BacklogFollower(Protocol):
    """What waits for the work the consumer has coming (a batcher filling its calls)."""

    def follow(self, backlog: Callable[[], int]) -> None: ...


class BackgroundLoop(Protocol):
    """Work a connector does besides consuming: read-back, polling. ``stop`` asks
    ``run`` to return."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class ConnectorParts:
    """What a connector process runs: its runtime, loops beside the consumer, the
    read-back on demand, if it has one, and what follows the consumer's backlog."""

    runtime: ConnectorRuntime[Any]  # any system's: its settings model is its own affair
    loops: Sequence[BackgroundLoop] = ()
    refresh: Refresh | None = None  # served as POST /integrations/{id}/refresh
    backlog_followers: Sequence[BacklogFollower] = ()

    @property
    def routes(self) -> list[BaseRoute]:
        return [refresh_route(self.refresh)] if self.refresh else []


@dataclass(frozen=True)
class _Group:
    """How the connector's consumer takes part in its group."""

    concurrency: int
    in_order_by: OrderScope
    session_timeout: float


async def run_connector(
    build: Callable[[EventProducer], Awaitable[ConnectorParts]],
    *,
    engine: AsyncEngine,
    bootstrap: str,
    health_port: int,
    health_host: str = "127.0.0.1",
    concurrency: int = 1,
    in_order_by: OrderScope = "subject",
    clock_url: str = "",
    environment: str = "development",
    session_timeout: float = 30.0,
) -> None:
    """Consume sync requests until SIGTERM/SIGINT; finish the message in hand first.

    ``build`` gets the producer, so results of the runtime and of the loops share it.
    ``concurrency`` and ``in_order_by`` shape the consumer (EventConsumer);
    ``clock_url`` makes date decisions follow another clock (dev and tests);
    ``session_timeout`` is the consumer group's (``kafka_session_timeout_seconds``).
    """
    group = _Group(concurrency, in_order_by, session_timeout)
    async with clock.following(clock_url, environment):
        await _run(build, engine, bootstrap, health_port, health_host, group)


async def _run(
    build: Callable[[EventProducer], Awaitable[ConnectorParts]],
    engine: AsyncEngine,
    bootstrap: str,
    health_port: int,
    health_host: str,
    group: _Group,
) -> None:
    producer = EventProducer(bootstrap, client_id=f"connector-{health_port}")
    await producer.start()
    parts = await build(producer)
    runtime = parts.runtime
    consumer = EventConsumer(
        bootstrap,
        topics=[topics.DOCUMENTS],
        group_id=f"connector-{runtime.system}",
        handler=runtime.handle,
        dead_letter=runtime.dead_letter_record,
        concurrency=group.concurrency,
        in_order_by=group.in_order_by,
        session_timeout=group.session_timeout,
    )
    for follower in parts.backlog_followers:
        follower.follow(consumer.backlog)
    server = uvicorn.Server(
        uvicorn.Config(
            control_app(engine, consumer, runtime, parts.routes),
            host=health_host,
            port=health_port,
            log_level="warning",
        )
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, consumer.stop)
    log.info("connector started", system=runtime.system)
    # Every connector relays its recorded-but-unpublished results (its outbox).
    relay = ResultRelay(runtime.ledger, producer, system=runtime.system)
    backgrounds: list[BackgroundLoop] = [*parts.loops, relay]
    tasks = [asyncio.ensure_future(server.serve())]
    tasks += [asyncio.ensure_future(background.run()) for background in backgrounds]
    try:
        # After the control server is up: joining the group can take tens of seconds
        # (after a crash), and /healthz, /verify and /metrics answer meanwhile.
        await consumer.start()
        await consumer.run()
    finally:
        server.should_exit = True
        for background in backgrounds:
            background.stop()
        await consumer.close()
        if loops := tasks[1:]:  # a round in the middle of its calls gets a moment to end
            _, unfinished = await asyncio.wait(loops, timeout=LOOP_GRACE_SECONDS)
            for task in unfinished:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        await engine.dispose()
        log.info("connector stopped", system=runtime.system)
