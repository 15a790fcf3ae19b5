"""One trace from the API request through the event to the push and its result.

In process: the API over real HTTP (workers off), then the connector runtime (a fake
connector) on the event the request left in the outbox, spans kept in memory.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.app import create_app
from invoicesync_api.settings import ApiSettings
from invoicesync_api.sync.results import ResultApplier
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import OutboxMessage
from invoicesync_shared.events.documents import InvoiceBooked
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.results import BookingAssigned
from invoicesync_shared.logging import add_trace_id
from invoicesync_shared.settings import ServiceSettings
from invoicesync_shared.tracing import configure_tracing
from tests.integration.api.conftest import ADMIN_TOKEN, add_integration, invoice, new_partner
from tests.support.producers import RecordingProducer
from tests.support.servers import serve_in_thread

FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02)


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span of this process, kept in memory (the provider is process-wide)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):  # installed earlier in this run
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        assert configure_tracing("tests", ServiceSettings(), exporter=exporter) is not None
    yield exporter
    exporter.shutdown()
    HTTPXClientInstrumentor().uninstrument()


@pytest.fixture(scope="module")
def api_url(spans: InMemorySpanExporter, database_url: str, encryption_key: str) -> Iterator[str]:
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def wait_for_span(
    exporter: InMemorySpanExporter, match: Callable[[ReadableSpan], bool]
) -> ReadableSpan:
    """The server span ends just after the response was sent: wait for it briefly."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [s for s in exporter.get_finished_spans() if match(s)]
        if found:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.02)
    raise AssertionError("span not exported")


def ids(traceparent: str | None) -> tuple[str, str]:
    """(trace id, parent span id) of a W3C traceparent."""
    assert traceparent is not None
    version, trace_id, span_id, _flags = traceparent.split("-")
    assert version == "00" and len(trace_id) == 32 and len(span_id) == 16
    return trace_id, span_id


def hex_ids(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return trace.format_trace_id(span.context.trace_id), trace.format_span_id(span.context.span_id)


async def outbox_envelope(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> Envelope:
    async with sessionmaker() as session:
        row = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.envelope["subject"].astext == document_id,
                OutboxMessage.event_type == InvoiceBooked.TYPE,
            )
        )
    assert row is not None
    return Envelope.from_json(row.envelope)


async def test_request_event_push_and_result_share_one_trace(
    spans: InMemorySpanExporter, api_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    with new_partner(api_url, "Traced Partner") as partner:
        created = partner.post("/v1/clients", json={"name": "Traced BV", "country": "NL"})
        assert created.status_code == 201, created.text
        client_id = str(created.json()["id"])
        integration_id = await add_integration(sessionmaker, client_id, system="exact")
        spans.clear()
        response = partner.post("/v1/invoices", json=invoice(client_id, number="TR-1"))
        assert response.status_code == 201, response.text
        document_id = str(response.json()["id"])

    # (a) the outbox event carries the request's trace.
    request_span = wait_for_span(
        spans,
        lambda s: s.kind is trace.SpanKind.SERVER and s.name == "POST /v1/invoices",
    )
    request_trace, request_span_id = hex_ids(request_span)
    event = await outbox_envelope(sessionmaker, document_id)
    event_trace, event_parent = ids(event.traceparent)
    assert (event_trace, event_parent) == (request_trace, request_span_id)

    # (b) the connector continues it: a push span, child of the event's context, and a
    # result that carries the push span's context on.
    producer = RecordingProducer()
    runtime = ConnectorRuntime(
        FakeConnector(), sessionmaker=sessionmaker, producer=producer, retry=FAST
    )
    with structlog.testing.capture_logs(processors=[add_trace_id]) as logs:
        await runtime.handle(event)
    push = wait_for_span(spans, lambda s: s.name == "push exact")
    assert push.kind is trace.SpanKind.CONSUMER
    assert push.parent is not None
    push_trace, push_span = hex_ids(push)
    assert (push_trace, trace.format_span_id(push.parent.span_id)) == (event_trace, event_parent)
    assert push.attributes is not None
    assert dict(push.attributes) == {
        "document_id": document_id,
        "integration_id": str(integration_id),
        "system": "exact",
    }
    (result,) = producer.of_type(BookingAssigned.TYPE)
    assert ids(result.traceparent) == (request_trace, push_span)

    # (c) the runtime's log lines name the trace.
    (pushed,) = [line for line in logs if line["event"] == "pushed"]
    assert pushed["trace_id"] == request_trace
    assert pushed["document_id"] == document_id

    # The API applies the result in the same trace.
    await ResultApplier(sessionmaker).handle(result)
    applied = wait_for_span(spans, lambda s: s.name == "apply result")
    assert applied.parent is not None
    assert hex_ids(applied)[0] == request_trace
    assert trace.format_span_id(applied.parent.span_id) == push_span
    async with httpx.AsyncClient(base_url=api_url) as http:
        assert (await http.get("/healthz")).status_code == 200
    assert not [s for s in spans.get_finished_spans() if "/healthz" in s.name]


def test_no_trace_no_traceparent_and_no_trace_id() -> None:
    """Outside any span nothing is invented: no traceparent, no trace_id in logs."""
    envelope = Envelope.wrap(
        BookingAssigned(
            document_id=uuid.uuid4(),
            integration_id=uuid.uuid4(),
            generation=0,
            booking_number="1",
            remote_id="r",
            sent_at=datetime.now(UTC),
        ),
        source="/tests",
        subject="s",
        key="k",
    )
    assert envelope.traceparent is None
    with structlog.testing.capture_logs(processors=[add_trace_id]) as logs:
        structlog.get_logger().info("outside")
    assert "trace_id" not in logs[0]
