"""After an unknown outcome the Lexware connector adopts only the voucher that is provably
ours (our marker in its introduction; date, total and contact agree), against the sandbox
over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_lexware import mapping
from invoicesync_shared.connectors.provenance import marker
from invoicesync_shared.connectors.retry import RetryPolicy
from invoicesync_shared.connectors.runtime import ConnectorRuntime
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import LedgerEntry
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.events.results import BookingAssigned, DocumentSent, SyncFailed
from tests.integration.connectors.lexware_support import (
    World,
    booked,
    connect,
    document,
    verify,
)

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def world(
    shared_sandbox_url: str, sessionmaker: Sessions, secret_box: SecretBox
) -> AsyncIterator[World]:
    world = await connect(shared_sandbox_url, sessionmaker, secret_box)
    await verify(world, sessionmaker)
    yield world
    await world.http.aclose()


async def _typed_by_hand(world: World, like: DocumentSnapshot) -> dict[str, Any]:
    """A draft a bookkeeper made in Lexware Office for the same contact, day and amounts,
    with our reference line in its introduction but no marker."""
    [contact_id] = {d["contactId"] for d in world.drafts()}  # the one customer's contact
    payload = mapping.voucher_payload(like, contact_id=contact_id, reference=like.number)
    payload["introduction"] = mapping.reference_line(like.number)
    # The organisation is the scope the runtime paces on: one pace for both writers.
    scope = world.organization_id
    return await world.client.post(world.integration.id, scope, "v1/invoices", payload)


async def test_a_draft_typed_by_hand_with_our_reference_is_ambiguous(
    world: World, sessionmaker: Sessions
) -> None:
    await world.send(document(world.integration.client_id, "WARM-UP"))  # contact exists
    ours = document(world.integration.client_id, "INV-L1")
    by_hand = await _typed_by_hand(world, ours)
    faults = f"{world.sandbox_url}/_sandbox/faults"
    fault = {"system": "lexware", "path_pattern": "/v1/invoices", "count": 1}
    armed = httpx.post(faults, json={**fault, "kind": "timeout", "method": "POST"})
    assert armed.status_code < 300, armed.text

    await world.send(ours)  # the push times out unapplied: only the hand-made draft exists
    await world.send(ours)  # redelivered: still neither adopted nor sent

    sent = world.results(DocumentSent.TYPE) + world.results(BookingAssigned.TYPE)
    assert [s["document_id"] for s in sent if s["document_id"] == str(ours.id)] == []
    failures = world.results(SyncFailed.TYPE)
    assert [f["code"] for f in failures] == ["ambiguous_match", "ambiguous_match"]
    assert all(f["retryable"] for f in failures)
    assert str(by_hand["id"]) in str(failures[0]["message"])
    assert marker(ours.id) in str(failures[0]["message"])
    assert len(world.drafts()) == 2  # the warm-up and the hand-made one: nothing pushed
    async with sessionmaker() as session:
        state = await session.scalar(select(LedgerEntry.state).filter_by(document_id=ours.id))
    assert state == "attempting"


async def test_the_lost_draft_is_adopted_not_a_newer_one_typed_by_hand(
    world: World, sessionmaker: Sessions
) -> None:
    """The answer is lost and the retries give up; a bookkeeper then types a lookalike
    (newer, so first in the lookup's order). Asked again, ours is adopted."""
    await world.send(document(world.integration.client_id, "WARM-UP"))
    give_up_at_once = ConnectorRuntime(
        world.connector,
        sessionmaker=sessionmaker,
        producer=world.producer,
        retry=RetryPolicy(attempts=1),
    )
    ours = document(world.integration.client_id, "INV-L2")
    faults = f"{world.sandbox_url}/_sandbox/faults"
    fault = {"system": "lexware", "path_pattern": "/v1/invoices", "count": 1}
    armed = httpx.post(
        faults, json={**fault, "kind": "drop_response_after_commit", "method": "POST"}
    )
    assert armed.status_code < 300, armed.text
    await give_up_at_once.handle(booked(world.integration.id, ours))
    assert [f["code"] for f in world.results(SyncFailed.TYPE)] == ["outcome_unknown"]
    by_hand = await _typed_by_hand(world, ours)

    await world.send(ours)  # asked for again (sweeper, retry)

    [adopted] = [r for r in world.results(DocumentSent.TYPE) if r["document_id"] == str(ours.id)]
    assert adopted["remote_id"] != str(by_hand["id"])
    assert adopted["remote_id"] in {d["id"] for d in world.drafts()}
    assert len(world.drafts()) == 3  # warm-up, ours, hand-made: pushed once


async def test_a_voucher_opened_by_a_lookup_is_not_opened_again_while_unchanged(
    world: World, sessionmaker: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every lookup of a client's day opened the same vouchers again at 2 requests/s: in
    the full chaos run a few clients' documents in doubt held their lane for half an
    hour. The voucherlist's ``updatedDate`` says when one must be read again."""
    await world.send(document(world.integration.client_id, "WARM-UP"))
    ours = document(world.integration.client_id, "INV-L3")
    await _typed_by_hand(world, ours)
    faults = f"{world.sandbox_url}/_sandbox/faults"
    fault = {"system": "lexware", "path_pattern": "/v1/invoices", "count": 1}
    armed = httpx.post(faults, json={**fault, "kind": "timeout", "method": "POST"})
    assert armed.status_code < 300, armed.text
    await world.send(ours)  # in doubt: its lookups open the day's vouchers

    opened: list[str] = []
    get = world.client.get

    async def recording_get(integration_id: Any, scope: str, path: str, *more: Any) -> Any:
        opened.append(path)
        return await get(integration_id, scope, path, *more)

    monkeypatch.setattr(world.client, "get", recording_get)
    await world.send(ours)  # asked again: the same vouchers, unchanged

    assert [f["code"] for f in world.results(SyncFailed.TYPE)] == ["ambiguous_match"] * 2
    assert [p for p in opened if p.startswith("v1/invoices/")] == []
