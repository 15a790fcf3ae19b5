"""What the runtime hands a connector: the customer and supplier links of the
integration's client and scope, the document files from the database, and whether the
document was tried before — for a push and for a preview."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors.customers import CustomerLinks, RemoteCustomer
from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.preview import PreviewAnswer
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.connectors.testing import FakeConnector
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import DocumentFileRef, DocumentSnapshot
from invoicesync_shared.integration_settings import SettingsModel
from invoicesync_shared.states import FailureCode
from tests.support.factories import booked_event, make_client, make_integration, snapshot
from tests.support.producers import RecordingProducer

FAILED = "com.invoicesync.sync.failed"
FAST = RetryPolicy(attempts=2, initial=0.01, maximum=0.02)

Work = Callable[[PushContext, DocumentSnapshot], Awaitable[None]]


@dataclass
class ContextKeeper(FakeConnector):
    """Keeps every context it is handed and runs ``work`` with it before booking."""

    work: Work | None = None
    contexts: list[PushContext] = field(default_factory=list)

    def scope(self, integration: Integration, settings: SettingsModel) -> str:
        """As Exact's division: the book named by the integration's stored settings."""
        assert isinstance(settings, SettingsModel), settings
        return f"book-{integration.id}"

    async def push(self, ctx: PushContext, document: DocumentSnapshot) -> Booking:
        self.contexts.append(ctx)
        if self.work is not None:
            await self.work(ctx, document)
        return await super().push(ctx, document)

    async def preview(self, ctx: PushContext, document: DocumentSnapshot) -> PreviewAnswer:
        self.contexts.append(ctx)
        return PreviewAnswer({"number": document.number}, None)


def runtime_for(
    sessionmaker: async_sessionmaker[AsyncSession], connector: ContextKeeper
) -> tuple[ConnectorRuntime, RecordingProducer]:
    producer = RecordingProducer()
    runtime = ConnectorRuntime(connector, sessionmaker=sessionmaker, producer=producer, retry=FAST)
    return runtime, producer


async def test_a_push_links_customers_and_suppliers_of_its_client_and_scope_apart(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """One business partner's key linked as a customer and as a supplier: two links, each
    found under its own role, the integration's client, system and scope."""

    async def link_both(ctx: PushContext, document: DocumentSnapshot) -> None:
        await ctx.customers.save("PARTNER-1", RemoteCustomer("remote-customer", "C1"))
        await ctx.suppliers.save("PARTNER-1", RemoteCustomer("remote-supplier", "S1"))

    connector = ContextKeeper(work=link_both)
    runtime, producer = runtime_for(sessionmaker, connector)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    await runtime.handle(booked_event(snapshot(client, "LINKS-1"), integration))

    assert producer.of_type(FAILED) == []
    found = {}
    for role in ("customer", "supplier"):
        links = CustomerLinks(
            sessionmaker,
            client_id=client.id,
            system="exact",
            scope=f"book-{integration.id}",
            role=role,
        )
        found[role] = await links.find("PARTNER-1")
    assert found == {
        "customer": RemoteCustomer("remote-customer", "C1"),
        "supplier": RemoteCustomer("remote-supplier", "S1"),
    }


async def test_a_push_reads_files_from_the_database_and_a_missing_one_is_actionable(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A file the database does not hold is a permanent ``file_missing`` a bookkeeper can
    act on (post it again), not an internal error."""

    async def read_a_file(ctx: PushContext, document: DocumentSnapshot) -> None:
        ref = DocumentFileRef(
            id=uuid.uuid4(),
            filename="bill.pdf",
            content_type="application/pdf",
            size=3,
            sha256="0" * 64,
        )
        await ctx.files.read(ref)

    connector = ContextKeeper(work=read_a_file)
    runtime, producer = runtime_for(sessionmaker, connector)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    await runtime.handle(booked_event(snapshot(client, "FILE-1"), integration))

    (failed,) = producer.of_type(FAILED)
    assert failed.data["code"] == FailureCode.FILE_MISSING
    assert "'bill.pdf'" in failed.data["message"] and failed.data["retryable"] is False


async def test_a_first_push_and_a_preview_are_new_documents_and_a_retry_is_not(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    connector = ContextKeeper()
    runtime, _ = runtime_for(sessionmaker, connector)
    client = await make_client(sessionmaker)
    integration = await make_integration(sessionmaker, client)
    document = snapshot(client, "FRESH-CTX-1")

    answer = await runtime.preview(integration.id, document)
    connector.fail_next(PermanentError("period_locked", "The period is locked."))
    await runtime.handle(booked_event(document, integration))
    await runtime.handle(booked_event(document, integration))

    assert answer.payload == {"number": "FRESH-CTX-1"}
    preview, first, retry = connector.contexts
    seen = [(c.reference, c.is_update, c.previous, c.tried_before) for c in connector.contexts]
    assert seen == [
        ("FRESH-CTX-1", False, None, False),
        ("FRESH-CTX-1", False, None, False),
        ("FRESH-CTX-1", False, None, True),
    ]
    assert preview.integration.id == first.integration.id == retry.integration.id
