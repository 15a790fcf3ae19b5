"""Documents: totals, bad input as problem+json, drafts, the outbox in the same transaction."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import Document
from invoicesync_shared.db.models import OutboxMessage
from tests.integration.api.conftest import add_integration, invoice

PROBLEM = "application/problem+json"


async def outbox_envelopes(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str
) -> list[dict[str, Any]]:
    """The outbox events written about one document, as stored."""
    async with sessionmaker() as session:
        envelopes = await session.scalars(
            select(OutboxMessage.envelope).where(
                OutboxMessage.envelope["subject"].astext == document_id
            )
        )
        return list(envelopes)


async def outbox_count(sessionmaker: async_sessionmaker[AsyncSession], document_id: str) -> int:
    return len(await outbox_envelopes(sessionmaker, document_id))


def test_totals_are_computed_per_line_and_returned_as_strings(
    partner: httpx.Client, client_id: str
) -> None:
    response = partner.post("/v1/invoices", json=invoice(client_id))
    assert response.status_code == 201, response.text
    body = response.json()
    # 3 x 33.33 = 99.99, VAT 21 % = 21.00 (20.9979 rounded); 10.00 at 9 % = 0.90
    assert body["totals"] == {"net": "109.99", "vat": "21.90", "gross": "131.89"}
    assert [line["vat_amount"] for line in body["lines"]] == ["21.00", "0.90"]


def test_declared_totals_that_do_not_add_up_are_refused(
    partner: httpx.Client, client_id: str
) -> None:
    response = partner.post("/v1/invoices", json=invoice(client_id, totals={"gross": "131.90"}))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "totals.gross is 131.90 but the lines add up to 131.89" in response.json()["detail"]
    # The same shape as every validation problem: one entry per field.
    assert response.json()["errors"] == [
        {
            "field": "totals.gross",
            "message": "is 131.90 but the lines add up to 131.89",
            "type": "totals_mismatch",
        }
    ]


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'{"client_id": "x"}', 422, "validation_failed"),
    ],
)
def test_malformed_bodies_get_problem_json(
    partner: httpx.Client, content: bytes, status: int, code: str
) -> None:
    response = partner.post(
        "/v1/invoices", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == code
    assert response.json()["status"] == status


def test_float_amounts_are_refused_with_the_field_named(
    partner: httpx.Client, client_id: str
) -> None:
    body = invoice(client_id)
    body["lines"][0]["unit_price"] = 33.33
    response = partner.post("/v1/invoices", json=body)
    assert response.status_code == 422
    fields = [e["field"] for e in response.json()["errors"]]
    assert "lines.0.unit_price" in fields


def test_unknown_client_is_404_and_nothing_is_written(
    partner: httpx.Client, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = partner.post("/v1/invoices", json=invoice(str(uuid.uuid4()), number="ghost-1"))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_wrong_api_key_is_401_problem(api_url: str) -> None:
    response = httpx.get(f"{api_url}/v1/invoices", headers={"Authorization": "Bearer isk_wrong"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"


async def test_booked_invoice_without_integrations_writes_no_event_and_draft_none(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    booked = partner.post("/v1/invoices", json=invoice(client_id, number="B-1")).json()
    draft = partner.post(
        "/v1/invoices", json=invoice(client_id, number="D-1", status="draft")
    ).json()
    assert booked["sync"] == [] and draft["sync"] == []
    assert await outbox_count(sessionmaker, booked["id"]) == 0
    assert await outbox_count(sessionmaker, draft["id"]) == 0


async def test_a_draft_is_stored_whatever_integrations_its_client_has(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A draft is sent nowhere, so the client's active integration neither gets it nor
    holds up its storing (the write checks the integrations only of a document it sends)."""
    await add_integration(sessionmaker, client_id)
    draft = partner.post("/v1/invoices", json=invoice(client_id, number="D-2", status="draft"))
    assert draft.status_code == 201, draft.text
    assert draft.json()["sync"] == []
    assert await outbox_count(sessionmaker, draft.json()["id"]) == 0


async def test_a_document_goes_to_its_own_clients_integrations_only(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Two clients of one partner, each with an integration: a document of the second
    is sent to the second's integration alone, with the second's company data."""
    await add_integration(sessionmaker, client_id)
    second = partner.post("/v1/clients", json={"name": "Second Client BV"}).json()["id"]
    theirs = await add_integration(sessionmaker, second, system="yuki")
    doc = partner.post("/v1/invoices", json=invoice(second, number="OWN-CLIENT-1"))
    assert doc.status_code == 201, doc.text
    assert [s["integration_id"] for s in doc.json()["sync"]] == [str(theirs)]
    [envelope] = await outbox_envelopes(sessionmaker, doc.json()["id"])
    assert [t["integration_id"] for t in envelope["data"]["targets"]] == [str(theirs)]
    assert envelope["data"]["document"]["company"]["name"] == "Second Client BV"


async def test_duplicate_number_is_409_and_leaves_one_document(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = partner.post("/v1/invoices", json=invoice(client_id, number="DUP-1"))
    second = partner.post(
        "/v1/invoices", json=invoice(client_id, number="DUP-1", external_id="other")
    )
    assert first.status_code == 201 and second.status_code == 409
    assert second.json()["existing_id"] == first.json()["id"]
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.number == "DUP-1", Document.client_id == uuid.UUID(client_id))
        )
    assert count == 1


def test_credit_note_must_credit_an_invoice_of_the_same_client(
    partner: httpx.Client, client_id: str
) -> None:
    other_client = partner.post("/v1/clients", json={"name": "Other"}).json()["id"]
    foreign_invoice = partner.post("/v1/invoices", json=invoice(other_client, number="F-1")).json()[
        "id"
    ]
    refused = partner.post(
        "/v1/credit-notes", json=invoice(client_id, number="CN-1", credit_note_for=foreign_invoice)
    )
    assert refused.status_code == 422
    nothing = partner.post(
        "/v1/credit-notes",
        json=invoice(client_id, number="CN-1", credit_note_for=str(uuid.uuid4())),
    )
    assert nothing.status_code == 422, nothing.text
    assert nothing.headers["content-type"] == "application/problem+json"
    own_invoice = partner.post("/v1/invoices", json=invoice(client_id, number="I-9")).json()["id"]
    accepted = partner.post(
        "/v1/credit-notes", json=invoice(client_id, number="CN-1", credit_note_for=own_invoice)
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["kind"] == "credit_note"
    assert accepted.json()["credit_note_for"] == own_invoice
    # A credit note is not an invoice: the invoice path does not show it.
    assert partner.get(f"/v1/invoices/{accepted.json()['id']}").status_code == 404


def test_filters_and_cursor_pagination(partner: httpx.Client, client_id: str) -> None:
    for n in range(5):
        partner.post("/v1/invoices", json=invoice(client_id, number=f"P-{n}"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {
            "client_id": client_id,
            "limit": 2,
            "booking_number": "null",
        }
        if cursor:
            params["cursor"] = cursor
        page = partner.get("/v1/invoices", params=params).json()
        seen += [d["number"] for d in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"P-{n}" for n in reversed(range(5))]
    assert (
        partner.get(
            "/v1/invoices", params={"booking_number": "X-1", "client_id": client_id}
        ).json()["data"]
        == []
    )


async def test_concurrent_documents_with_one_number_make_one_and_409s(
    api_url: str, partner: httpx.Client, client_id: str
) -> None:
    import asyncio

    body = invoice(client_id, number="RACE-1")
    async with httpx.AsyncClient(base_url=api_url, headers=dict(partner.headers)) as http:
        answers = await asyncio.gather(*(http.post("/v1/invoices", json=body) for _ in range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1 and set(statuses) == {201, 409}, statuses
    assert all(a.headers["content-type"] == PROBLEM for a in answers if a.status_code == 409)
