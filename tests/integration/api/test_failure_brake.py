"""Issue 22 item 3, the API's side of the failure brake: permanent failures in a row for
one code pause the integration once (one notification, one ``integration.status_changed``);
a success or another code starts the count again; failures applied at once are each
counted; while paused nothing fails or is lost, and resume asks for every waiting document
again, oldest first. (The whole flow on the sandbox: tests/e2e/test_failure_brake.py.)"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Notification
from invoicesync_api.sync.results import ResultApplier
from invoicesync_api.webhooks.models import WebhookDelivery
from invoicesync_shared.db.models import Integration, OutboxMessage
from invoicesync_shared.events.envelope import Envelope
from invoicesync_shared.events.results import BookingAssigned, SyncFailed, SyncResult
from tests.integration.api.conftest import add_integration, invoice, new_partner

Sessions = async_sessionmaker[AsyncSession]
VAT = "Exact division 1 has no VAT code for 7 %; add one in Exact."


def _wrap(result: SyncResult) -> Envelope:
    return Envelope.wrap(
        result, source="/connectors/exact", subject=str(result.document_id), key="k"
    )


def _failed(
    integration_id: uuid.UUID,
    document_id: str,
    *,
    code: str = "unknown_vat_code",
    retryable: bool = False,
) -> Envelope:
    failed = SyncFailed(
        document_id=uuid.UUID(document_id),
        integration_id=integration_id,
        code=code,
        message=VAT if code == "unknown_vat_code" else f"refused: {code}",
        retryable=retryable,
    )
    return _wrap(failed)


def _booked(integration_id: uuid.UUID, document_id: str) -> Envelope:
    booked = BookingAssigned(
        document_id=uuid.UUID(document_id),
        integration_id=integration_id,
        booking_number=f"BN-{document_id[:8]}",
        remote_id=str(uuid.uuid4()),
        sent_at=datetime.now(UTC),
    )
    return _wrap(booked)


def _post(partner: httpx.Client, client_id: str, count: int, prefix: str) -> list[str]:
    ids = []
    for n in range(count):
        posted = partner.post("/v1/invoices", json=invoice(client_id, number=f"{prefix}-{n}"))
        assert posted.status_code == 201, posted.text
        ids.append(str(posted.json()["id"]))
    return ids


def _sync(partner: httpx.Client, document_id: str) -> dict[str, object]:
    [state] = partner.get(f"/v1/invoices/{document_id}").json()["sync"]
    return dict(state)


async def _announced(
    sessionmaker: Sessions, integration_id: uuid.UUID, client_id: str
) -> tuple[list[Notification], list[dict[str, object]]]:
    async with sessionmaker() as session:
        notes = (
            await session.scalars(
                select(Notification).where(
                    Notification.client_id == uuid.UUID(client_id),
                    Notification.kind == "integration_status_changed",
                )
            )
        ).all()
        deliveries = (
            await session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.event_type == "integration.status_changed")
                .order_by(WebhookDelivery.created_at)
            )
        ).all()
    hooks = [
        d.payload["data"]
        for d in deliveries
        if d.payload["data"]["integration_id"] == str(integration_id)
    ]
    return list(notes), hooks


async def _requests_for(sessionmaker: Sessions, document_ids: list[str]) -> list[str]:
    """The documents of ``document_ids`` asked for (outbox rows), in the order asked."""
    async with sessionmaker() as session:
        subjects = await session.scalars(
            select(OutboxMessage.envelope["subject"].astext)
            .where(OutboxMessage.envelope["subject"].astext.in_(document_ids))
            .order_by(OutboxMessage.id)
        )
        return list(subjects)


async def _streak(sessionmaker: Sessions, integration_id: uuid.UUID) -> tuple[str | None, int]:
    async with sessionmaker() as session:
        integration = await session.get(Integration, integration_id)
        assert integration is not None
        return integration.failure_streak_code, integration.failure_streak_count


async def test_three_failures_in_a_row_pause_once_and_resume_sends_the_rest_in_order(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions
) -> None:
    endpoint = partner.post(
        "/v1/webhook-endpoints", json={"url": "https://8.8.8.8/hook", "events": ["*"]}
    )
    assert endpoint.status_code == 201, endpoint.text
    integration_id = await add_integration(sessionmaker, client_id)
    documents = _post(partner, client_id, 6, "BRAKE")
    applier = ResultApplier(sessionmaker)

    for document_id in documents[:2]:
        await applier.handle(_failed(integration_id, document_id))
    assert partner.get(f"/v1/integrations/{integration_id}").json()["status"] == "active"
    third = _failed(integration_id, documents[2])
    await applier.handle(third)
    await applier.handle(third)  # redelivered: counted once
    # A push already under way when it paused: its refusal keeps the document waiting.
    await applier.handle(_failed(integration_id, documents[3]))

    shown = partner.get(f"/v1/integrations/{integration_id}").json()
    assert shown["status"] == "paused"
    assert shown["paused_cause"] == {"code": "unknown_vat_code", "message": VAT}
    assert shown["status_reason"] == VAT
    assert [_sync(partner, d)["status"] for d in documents[:3]] == ["failed"] * 3
    for waiting in documents[3:]:
        state = _sync(partner, waiting)
        assert (state["status"], state["error"]) == ("pending", None)
        assert state["waiting_reason"] == "integration_paused"
    notes, hooks = await _announced(sessionmaker, integration_id, client_id)
    assert len(notes) == 1 and "resume" in notes[0].body and "unknown_vat_code" in notes[0].body
    assert notes[0].errors == [{"code": "unknown_vat_code", "message": VAT}]
    assert [(h["status"], h["cause"]) for h in hooks] == [
        ("paused", {"code": "unknown_vat_code", "message": VAT})
    ]
    # A document created while paused waits too.
    [late] = _post(partner, client_id, 1, "BRAKE-LATE")
    assert _sync(partner, late)["waiting_reason"] == "integration_paused"

    before = await _requests_for(sessionmaker, [*documents, late])
    resumed = partner.post(f"/v1/integrations/{integration_id}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["documents_requested"] == 4
    assert resumed.json()["integration"]["status"] == "active"
    assert resumed.json()["integration"]["paused_cause"] is None
    asked = (await _requests_for(sessionmaker, [*documents, late]))[len(before) :]
    assert asked == [*documents[3:], late]  # the waiting ones, oldest first, once each
    assert [_sync(partner, d)["status"] for d in documents[:3]] == ["failed"] * 3
    assert _sync(partner, late)["waiting_reason"] is None
    assert await _streak(sessionmaker, integration_id) == (None, 0)
    notes, hooks = await _announced(sessionmaker, integration_id, client_id)
    assert len(notes) == 1
    assert [h["status"] for h in hooks] == ["paused", "active"]

    again = partner.post(f"/v1/integrations/{integration_id}/resume")
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    assert "not paused" in again.json()["detail"]


async def test_a_success_or_another_cause_starts_the_count_again(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions
) -> None:
    integration_id = await add_integration(sessionmaker, client_id)
    documents = _post(partner, client_id, 8, "RESET")
    applier = ResultApplier(sessionmaker)
    steps = [
        _failed(integration_id, documents[0]),
        _failed(integration_id, documents[1]),
        _booked(integration_id, documents[2]),  # a success between: the run is over
        _failed(integration_id, documents[3]),
        _failed(integration_id, documents[4]),
        _failed(integration_id, documents[5], code="gl_account_missing"),  # another cause
        _failed(integration_id, documents[6], code="unavailable", retryable=True),  # transient
        _failed(integration_id, documents[7], code="gl_account_missing"),
    ]
    for step in steps:
        await applier.handle(step)
    assert partner.get(f"/v1/integrations/{integration_id}").json()["status"] == "active"
    assert await _streak(sessionmaker, integration_id) == ("gl_account_missing", 2)
    notes, hooks = await _announced(sessionmaker, integration_id, client_id)
    assert (notes, hooks) == ([], [])


async def test_the_setting_and_failures_applied_at_once_are_each_counted(
    partner: httpx.Client, client_id: str, sessionmaker: Sessions
) -> None:
    endpoint = partner.post(
        "/v1/webhook-endpoints", json={"url": "https://8.8.8.8/hook", "events": ["*"]}
    )
    assert endpoint.status_code == 201, endpoint.text
    integration_id = await add_integration(sessionmaker, client_id)
    patched = partner.patch(f"/v1/integrations/{integration_id}", json={"failure_brake_after": 12})
    assert patched.status_code == 200, patched.text
    assert patched.json()["failure_brake_after"] == 12
    refused = partner.patch(f"/v1/integrations/{integration_id}", json={"failure_brake_after": 0})
    assert refused.status_code == 422, refused.text
    assert "failure_brake_after" in refused.text
    documents = _post(partner, client_id, 12, "RACE")
    appliers = [ResultApplier(sessionmaker) for _ in documents]  # as replicas would

    await asyncio.gather(
        *(a.handle(_failed(integration_id, d)) for a, d in zip(appliers, documents, strict=True))
    )

    assert await _streak(sessionmaker, integration_id) == ("unknown_vat_code", 12)
    assert partner.get(f"/v1/integrations/{integration_id}").json()["status"] == "paused"
    assert [_sync(partner, d)["status"] for d in documents] == ["failed"] * 12
    notes, hooks = await _announced(sessionmaker, integration_id, client_id)
    assert len(notes) == 1 and len(hooks) == 1


async def test_resume_of_another_partners_integration_is_not_found(
    api_url: str, client_id: str, sessionmaker: Sessions
) -> None:
    integration_id = await add_integration(sessionmaker, client_id, status="paused")
    with new_partner(api_url, "Someone else") as other:
        foreign = other.post(f"/v1/integrations/{integration_id}/resume")
    assert foreign.status_code == 404, foreign.text
    assert foreign.headers["content-type"] == "application/problem+json"
