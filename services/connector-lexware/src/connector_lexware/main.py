"""Entry point: ``connector-lexware`` (consumer, control server and the voucher read-back)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_lexware.client import LexwareClient
from connector_lexware.connector import LexwareConnector
from connector_lexware.readback import LexwareReadBack
from connector_lexware.settings import LexwareConnectorSettings
from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.connectors.keepalive import TokenKeepAlive
from invoicesync_shared.connectors.oauth import OAuthApp, TokenStore
from invoicesync_shared.connectors.pacing import Pacer, PostgresPacer
from invoicesync_shared.connectors.rate_limit import TokenBucket
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.service import ConnectorParts, run_connector
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from invoicesync_shared.logging import configure_logging
from invoicesync_shared.tracing import configure_tracing


def build_pacer(
    settings: LexwareConnectorSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> Pacer:
    rate = settings.lexware_requests_per_second
    if settings.lexware_shared_pacing:
        return PostgresPacer(sessionmaker, system="lexware", rate=rate)
    return TokenBucket(rate)


async def serve(settings: LexwareConnectorSettings) -> None:
    engine = create_engine(settings.database_url, application_name="connector-lexware")
    sessionmaker = create_sessionmaker(engine)
    app = OAuthApp(
        f"{settings.lexware_auth_url()}/api/oauth2/token",
        settings.lexware_client_id,
        settings.lexware_client_secret.get_secret_value(),
    )
    tokens = TokenStore(sessionmaker, SecretBox(settings.encryption_keys), app)
    timeout = httpx.Timeout(
        settings.lexware_timeout_seconds, connect=settings.lexware_connect_timeout_seconds
    )
    http = httpx.AsyncClient(timeout=timeout)
    client = LexwareClient(
        http, tokens, base_url=settings.lexware_url(), pacer=build_pacer(settings, sessionmaker)
    )
    connector = LexwareConnector(
        client,
        sessionmaker,
        profile_ttl=settings.lexware_profile_cache_seconds,
        callback_url=settings.lexware_callback_url,
    )

    async def build(producer: EventProducer) -> ConnectorParts:
        readback = LexwareReadBack(
            client, sessionmaker, producer, interval=settings.poll_interval()
        )
        runtime = ConnectorRuntime(
            connector,
            sessionmaker=sessionmaker,
            producer=producer,
            settle=timedelta(seconds=settings.lexware_settle_seconds),
            lease=settings.ledger_lease(),
            deadline=settings.push_deadline(),
        )
        keep_alive = TokenKeepAlive(
            sessionmaker,
            producer,
            tokens,
            system="lexware",
            max_idle=timedelta(days=settings.lexware_keepalive_days),
            interval=settings.keepalive_interval_seconds,
        )
        return ConnectorParts(runtime, loops=[readback, keep_alive], refresh=readback.refresh_now)

    try:
        await run_connector(
            build,
            engine=engine,
            bootstrap=settings.kafka_bootstrap,
            health_port=settings.connector_lexware_port,
            health_host=settings.connector_host,
            clock_url=settings.clock_url,
            environment=settings.env,
            session_timeout=settings.kafka_session_timeout_seconds,
            concurrency=settings.lexware_concurrency,
            # One document per organisation at a time: its 2 requests/s serve that one, and
            # the slots go to other organisations (per document, a backlog of one took them all).
            in_order_by="key",
        )
    finally:
        await http.aclose()


def main() -> None:
    settings = LexwareConnectorSettings()
    configure_logging("connector-lexware", settings.log_level, settings.log_json)
    configure_tracing("connector-lexware", settings)
    asyncio.run(serve(settings))
