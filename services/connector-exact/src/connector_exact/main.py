"""Entry point: ``connector-exact`` (consumer, control server and the read-back loop)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from connector_exact.client import ExactClient
from connector_exact.connector import ExactConnector
from connector_exact.readback import ExactReadBack
from connector_exact.settings import ExactConnectorSettings
from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.connectors.error_brake import ErrorBrake
from invoicesync_shared.connectors.keepalive import TokenKeepAlive
from invoicesync_shared.connectors.oauth import OAuthApp, TokenStore
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.service import ConnectorParts, run_connector
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from invoicesync_shared.logging import configure_logging
from invoicesync_shared.tracing import configure_tracing


async def serve(settings: ExactConnectorSettings) -> None:
    engine = create_engine(settings.database_url, application_name="connector-exact")
    sessionmaker = create_sessionmaker(engine)
    app = OAuthApp(
        f"{settings.exact_url()}/api/oauth2/token",
        settings.exact_client_id,
        settings.exact_client_secret.get_secret_value(),
    )
    tokens = TokenStore(sessionmaker, SecretBox(settings.encryption_keys), app)
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.exact_timeout_seconds, connect=5.0))
    client = ExactClient(
        http,
        tokens,
        base_url=settings.exact_url(),
        brake=ErrorBrake(sessionmaker, system="exact", allowance=settings.exact_error_allowance),
    )

    async def build(producer: EventProducer) -> ConnectorParts:
        reader = ExactReadBack(
            client, sessionmaker, producer, interval=settings.exact_readback_interval_seconds
        )
        runtime = ConnectorRuntime(
            ExactConnector(
                client, master_data_ttl=timedelta(seconds=settings.exact_master_data_ttl_seconds)
            ),
            sessionmaker=sessionmaker,
            producer=producer,
            settle=timedelta(seconds=settings.exact_settle_seconds),
            lease=settings.ledger_lease(),
            deadline=settings.push_deadline(),
        )
        keep_alive = TokenKeepAlive(
            sessionmaker,
            producer,
            tokens,
            system="exact",
            max_idle=timedelta(days=settings.exact_keepalive_days),
            interval=settings.keepalive_interval_seconds,
        )
        return ConnectorParts(runtime, loops=[reader, keep_alive], refresh=reader.refresh_now)

    try:
        await run_connector(
            build,
            engine=engine,
            bootstrap=settings.kafka_bootstrap,
            health_port=settings.connector_exact_port,
            health_host=settings.connector_host,
            clock_url=settings.clock_url,
            environment=settings.env,
            session_timeout=settings.kafka_session_timeout_seconds,
            # Divisions side by side, each one document at a time: a division whose minute
            # is spent waits alone, and each answer's remaining count stays exact.
            concurrency=settings.exact_concurrency,
            in_order_by="key",
        )
    finally:
        await http.aclose()


def main() -> None:
    settings = ExactConnectorSettings()
    configure_logging("connector-exact", settings.log_level, settings.log_json)
    configure_tracing("connector-exact", settings)
    asyncio.run(serve(settings))
