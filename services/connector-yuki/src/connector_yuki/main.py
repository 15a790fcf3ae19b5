"""Entry point: ``connector-yuki`` (consumer, control server and the payment read-back).
Many documents in flight per partition, so that the batcher can fill ProcessSalesInvoices
calls."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from connector_yuki.batching import SalesInvoiceBatcher
from connector_yuki.connector import YukiConnector
from connector_yuki.lookup import BatchLookup
from connector_yuki.readback import YukiReadBack
from connector_yuki.sessions import SessionPool
from connector_yuki.settings import YukiConnectorSettings
from connector_yuki.soap import YukiSoap
from invoicesync_shared.bus.producer import EventProducer
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.service import ConnectorParts, run_connector
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.engine import create_engine, create_sessionmaker
from invoicesync_shared.logging import configure_logging
from invoicesync_shared.tracing import configure_tracing


def build_connector(settings: YukiConnectorSettings, soap: YukiSoap) -> YukiConnector:
    """The connector and its collaborators (also used by tests and bench/)."""
    sessions = SessionPool(soap)
    batcher = SalesInvoiceBatcher(
        soap,
        sessions,
        window=settings.yuki_batch_window_seconds,
        max_size=settings.yuki_batch_max_size,
        pause=settings.yuki_batch_pause_seconds,
        max_wait=settings.yuki_batch_max_wait_seconds,
    )
    lookup = BatchLookup(
        soap,
        sessions,
        window=settings.yuki_lookup_window_seconds,
        max_size=settings.yuki_batch_max_size,
    )
    return YukiConnector(soap, sessions, batcher, lookup, SecretBox(settings.encryption_keys))


async def serve(settings: YukiConnectorSettings) -> None:
    engine = create_engine(settings.database_url, application_name="connector-yuki")
    sessionmaker = create_sessionmaker(engine)
    soap = YukiSoap(settings.yuki_url(), timeout=settings.yuki_timeout_seconds)
    connector = build_connector(settings, soap)

    async def build(producer: EventProducer) -> ConnectorParts:
        reader = YukiReadBack(
            connector, sessionmaker, producer, interval=settings.yuki_readback_interval_seconds
        )
        runtime = ConnectorRuntime(
            connector,
            sessionmaker=sessionmaker,
            producer=producer,
            settle=timedelta(seconds=settings.yuki_settle_seconds),
            lease=settings.ledger_lease(),
            deadline=settings.push_deadline(),
        )
        return ConnectorParts(
            runtime,
            loops=[reader],
            refresh=reader.refresh_now,
            backlog_followers=[connector.batcher],
        )

    try:
        await run_connector(
            build,
            engine=engine,
            bootstrap=settings.kafka_bootstrap,
            health_port=settings.connector_yuki_port,
            health_host=settings.connector_host,
            clock_url=settings.clock_url,
            environment=settings.env,
            session_timeout=settings.kafka_session_timeout_seconds,
            concurrency=settings.yuki_concurrency,
        )
    finally:
        await soap.aclose()


def main() -> None:
    settings = YukiConnectorSettings()
    configure_logging("connector-yuki", settings.log_level, settings.log_json)
    configure_tracing("connector-yuki", settings)
    asyncio.run(serve(settings))
