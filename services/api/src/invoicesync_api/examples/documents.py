"""Examples for invoices and credit notes: bodies, answers per sync outcome, pages.

Amounts are what the API computes: per line, net = quantity x unit price and VAT = net x
rate, each rounded to the cent; the totals add the lines up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.openapi.models import Example

from invoicesync_api.examples import story
from invoicesync_api.examples.media import named
from invoicesync_api.examples.sync import EXACT_UNAVAILABLE_MESSAGE, PERIOD_CLOSED_MESSAGE

GERMAN_INVOICE_ID = "534385a8-29f5-4c93-819f-60bde4547059"
LEXWARE_VOUCHER_ID = "9b3fe247-df50-4811-9dd9-0287c7a20f48"
YUKI_EDIT_WARNING = (
    "The change is pushed to Yuki again; cost centres and projects set on its lines in Yuki "
    "will be reset."
)
EXACT_NOT_PUSHED_WARNING = (
    "This document is already synced to Exact Online; the change is NOT pushed there. Edit it "
    "in the accounting system as well."
)


def _state(integration_id: str, system: str, status: str, **fields: Any) -> dict[str, Any]:
    """One sync[] entry; what is not given has not happened yet (null)."""
    state: dict[str, Any] = {
        "integration_id": integration_id,
        "system": system,
        "status": status,
        "booking_number": None,
        "remote_id": None,
        "sent_at": None,
        "payment_status": None,
        "error": None,
        "duplicate_of": None,
        "waiting_until": None,
        "waiting_reason": None,
    }
    return {**state, **fields}


EXACT_PENDING = _state(story.EXACT_ID, "exact", "pending")
YUKI_PENDING = _state(story.YUKI_ID, "yuki", "pending")
EXACT_BOOKED = _state(
    story.EXACT_ID,
    "exact",
    "booked",
    booking_number=story.EXACT_BOOKING_NUMBER,
    remote_id=story.EXACT_ENTRY_ID,
    sent_at=story.EXACT_SENT_AT,
    payment_status="open",
)
YUKI_BOOKED = _state(
    story.YUKI_ID,
    "yuki",
    "booked",
    booking_number=story.YUKI_BOOKING_NUMBER,
    remote_id=story.YUKI_DOCUMENT_ID,
    sent_at=story.YUKI_SENT_AT,
)
EXACT_FAILED_RETRYABLE = _state(
    story.EXACT_ID,
    "exact",
    "failed",
    error={"code": "unavailable", "message": EXACT_UNAVAILABLE_MESSAGE, "retryable": True},
)
YUKI_PERIOD_CLOSED = _state(
    story.YUKI_ID,
    "yuki",
    "failed",
    error={"code": "period_closed", "message": PERIOD_CLOSED_MESSAGE, "retryable": False},
)

TRAVEL_LINE: dict[str, Any] = {
    "description": "Travel costs",
    "quantity": "1",
    "unit_price": "25.00",
    "vat_rate": "21",
    "gl_account": "8000",
}
LINE_OUT: dict[str, Any] = {
    **story.LINE,
    "net_amount": "150.00",
    "vat_amount": "31.50",
    "cost_centre": None,
}
TRAVEL_LINE_OUT: dict[str, Any] = {
    **TRAVEL_LINE,
    "net_amount": "25.00",
    "vat_amount": "5.25",
    "cost_centre": None,
}
TOTALS: dict[str, Any] = {"net": "150.00", "vat": "31.50", "gross": "181.50"}

INVOICE_IN: dict[str, Any] = {
    "client_id": story.CLIENT_ID,
    "external_id": "inv-2026-0001",
    "number": story.INVOICE_NUMBER,
    "status": "booked",
    "issue_date": "2026-11-20",
    "due_date": "2026-12-20",
    "currency": "EUR",
    "customer": story.CUSTOMER,
    "lines": [story.LINE],
}
INVOICE_WITH_TOTALS_IN: dict[str, Any] = {**INVOICE_IN, "totals": TOTALS}
DRAFT_IN: dict[str, Any] = {
    **INVOICE_IN,
    "external_id": "inv-2026-0002",
    "number": "2026-0002",
    "status": "draft",
    "issue_date": "2026-11-21",
    "due_date": "2026-12-21",
    "customer": {"external_id": "cust-42", "name": "Jansen Installatietechniek", "country": "NL"},
}
INVOICE_PATCH: dict[str, Any] = {"due_date": "2027-01-05", "lines": [story.LINE, TRAVEL_LINE]}

INVOICE_CREATED: dict[str, Any] = {
    "id": story.INVOICE_ID,
    "kind": "invoice",
    "client_id": story.CLIENT_ID,
    "external_id": "inv-2026-0001",
    "number": story.INVOICE_NUMBER,
    "status": "booked",
    "issue_date": "2026-11-20",
    "due_date": "2026-12-20",
    "currency": "EUR",
    "customer": story.CUSTOMER,
    "lines": [LINE_OUT],
    "totals": TOTALS,
    "credit_note_for": None,
    "booking_number": None,
    "sync": [EXACT_PENDING, YUKI_PENDING],
    "created_at": story.INVOICE_CREATED_AT,
    "updated_at": story.INVOICE_CREATED_AT,
    "warnings": [],
}
INVOICE_BOOKED: dict[str, Any] = {
    **INVOICE_CREATED,
    "booking_number": story.EXACT_BOOKING_NUMBER,
    "sync": [EXACT_BOOKED, YUKI_BOOKED],
}
INVOICE_FAILED: dict[str, Any] = {
    **INVOICE_CREATED,
    "id": story.THIRD_INVOICE_ID,
    "external_id": "inv-2026-0003",
    "number": "2026-0003",
    "created_at": "2026-11-22T08:41:10Z",
    "updated_at": "2026-11-22T08:41:10Z",
    # The first booking number any integration gave: Exact has none yet, Yuki has.
    "booking_number": "000019",
    "sync": [
        EXACT_FAILED_RETRYABLE,
        {
            **YUKI_BOOKED,
            "booking_number": "000019",
            "remote_id": "5d0c8f21-93b7-4a6e-bb41-7e2f0c9d3a58",
            "sent_at": "2026-11-22T08:41:14Z",
        },
    ],
}
INVOICE_RETRIED: dict[str, Any] = {
    **INVOICE_FAILED,
    "sync": [EXACT_PENDING, INVOICE_FAILED["sync"][1]],
    "updated_at": "2026-11-22T09:15:37Z",
}
INVOICE_PATCHED: dict[str, Any] = {
    **INVOICE_BOOKED,
    "due_date": "2027-01-05",
    "lines": [LINE_OUT, TRAVEL_LINE_OUT],
    "totals": {"net": "175.00", "vat": "36.75", "gross": "211.75"},
    # Yuki receives the edit again (pending); Exact keeps what it booked.
    "sync": [EXACT_BOOKED, {**YUKI_BOOKED, "status": "pending"}],
    "updated_at": "2026-11-22T10:12:45Z",
    "warnings": [EXACT_NOT_PUSHED_WARNING, YUKI_EDIT_WARNING],
}
DRAFT_OUT: dict[str, Any] = {
    **INVOICE_CREATED,
    "id": story.SECOND_INVOICE_ID,
    "external_id": "inv-2026-0002",
    "number": "2026-0002",
    "status": "draft",
    "issue_date": "2026-11-21",
    "due_date": "2026-12-21",
    "customer": {
        "external_id": "cust-42",
        "name": "Jansen Installatietechniek",
        "vat_number": None,
        "company_number": None,
        "email": None,
        "address": None,
        "country": "NL",
        "is_person": False,
    },
    "sync": [],  # drafts are never synced
    "created_at": "2026-11-21T16:20:05Z",
    "updated_at": "2026-11-21T16:20:05Z",
}
DRAFT_BOOKED: dict[str, Any] = {
    **DRAFT_OUT,
    "status": "booked",
    "sync": [EXACT_PENDING, YUKI_PENDING],
    "updated_at": "2026-11-21T16:45:30Z",
}
# Lexware Office takes documents as drafts ("sent"); the voucher number comes back as the
# booking number once someone finalises it there.
GERMAN_INVOICE_SENT: dict[str, Any] = {
    "id": GERMAN_INVOICE_ID,
    "kind": "invoice",
    "client_id": story.GERMAN_CLIENT_ID,
    "external_id": "re-2026-0001",
    "number": "RE-2026-0001",
    "status": "booked",
    "issue_date": "2026-11-20",
    "due_date": "2026-12-04",
    "currency": "EUR",
    "customer": {
        "external_id": "kunde-7",
        "name": "Schulz Bau GmbH",
        "vat_number": "DE987654321",
        "company_number": None,
        "email": "rechnungen@schulz-bau.example",
        "address": {
            "street": "Lindenallee",
            "house_number": "23",
            "postal_code": "50668",
            "city": "Köln",
            "country": "DE",
        },
        "country": "DE",
        "is_person": False,
    },
    "lines": [
        {
            "description": "Wartung Heizungsanlage",
            "quantity": "1",
            "unit_price": "120.00",
            "vat_rate": "19",
            "net_amount": "120.00",
            "vat_amount": "22.80",
            "gl_account": None,
            "cost_centre": None,
        }
    ],
    "totals": {"net": "120.00", "vat": "22.80", "gross": "142.80"},
    "credit_note_for": None,
    "booking_number": None,
    "sync": [
        _state(
            story.LEXWARE_ID,
            "lexware",
            "sent",
            remote_id=LEXWARE_VOUCHER_ID,
            sent_at="2026-11-20T15:10:02Z",
        )
    ],
    "created_at": "2026-11-20T15:09:58Z",
    "updated_at": "2026-11-20T15:09:58Z",
    "warnings": [],
}

CREDIT_LINE: dict[str, Any] = {
    **story.LINE,
    "description": "Maintenance visit (credited)",
    "quantity": "1",
}
CREDIT_NOTE_IN: dict[str, Any] = {
    "client_id": story.CLIENT_ID,
    "external_id": "cn-2026-0001",
    "number": "C2026-0001",
    "status": "booked",
    "issue_date": "2026-11-27",
    "currency": "EUR",
    "customer": story.CUSTOMER,
    "lines": [CREDIT_LINE],
    "credit_note_for": story.INVOICE_ID,
}
CREDIT_NOTE_PATCH: dict[str, Any] = {"due_date": "2026-12-27"}
CREDIT_NOTE_CREATED: dict[str, Any] = {
    **INVOICE_CREATED,
    "id": story.CREDIT_NOTE_ID,
    "kind": "credit_note",
    "external_id": "cn-2026-0001",
    "number": "C2026-0001",
    "issue_date": "2026-11-27",
    "due_date": None,
    "lines": [{**CREDIT_LINE, "net_amount": "75.00", "vat_amount": "15.75", "cost_centre": None}],
    "totals": {"net": "75.00", "vat": "15.75", "gross": "90.75"},
    "credit_note_for": story.INVOICE_ID,
    "created_at": "2026-11-27T11:30:00Z",
    "updated_at": "2026-11-27T11:30:00Z",
}
CREDIT_NOTE_EXACT_BOOKED = {
    **EXACT_BOOKED,
    "booking_number": "26700009",
    "remote_id": "0f4e6a2d-8c1b-4d7e-a3f9-6b2c5e8d1a07",
    "sent_at": "2026-11-27T11:30:02Z",
}
CREDIT_NOTE_YUKI_BOOKED = {
    **YUKI_BOOKED,
    "booking_number": "000023",
    "remote_id": "c8a1e5f3-2b7d-4f09-9e6c-1d4a7b3f8e52",
    "sent_at": "2026-11-27T11:30:06Z",
}
CREDIT_NOTE_BOOKED: dict[str, Any] = {
    **CREDIT_NOTE_CREATED,
    "booking_number": "26700009",
    "sync": [CREDIT_NOTE_EXACT_BOOKED, CREDIT_NOTE_YUKI_BOOKED],
}
CREDIT_NOTE_PATCHED: dict[str, Any] = {
    **CREDIT_NOTE_BOOKED,
    "due_date": "2026-12-27",
    "sync": [CREDIT_NOTE_EXACT_BOOKED, {**CREDIT_NOTE_YUKI_BOOKED, "status": "pending"}],
    "updated_at": "2026-11-28T09:02:13Z",
    "warnings": [EXACT_NOT_PUSHED_WARNING, YUKI_EDIT_WARNING],
}
CREDIT_NOTE_RETRIED: dict[str, Any] = {
    **CREDIT_NOTE_BOOKED,
    "booking_number": "000023",
    "sync": [EXACT_PENDING, CREDIT_NOTE_YUKI_BOOKED],
    "updated_at": "2026-11-27T12:05:41Z",
}

# Newest first: the next page starts after 2026-0003.
FIRST_PAGE_CURSOR = story.cursor(INVOICE_FAILED["created_at"], story.THIRD_INVOICE_ID)


@dataclass(frozen=True)
class DocumentExamples:
    """The named examples of one document kind's routes (invoices or credit notes)."""

    create: dict[str, Example]
    created: dict[str, Example]
    page: dict[str, Example]
    read: dict[str, Example]
    patch: dict[str, Example]
    patched: dict[str, Example]
    booked: dict[str, Example]
    retried: dict[str, Example]


INVOICE_EXAMPLES = DocumentExamples(
    create={
        "booked": named("A booked invoice (synced at once)", INVOICE_IN),
        "with_totals": named(
            "With declared totals",
            INVOICE_WITH_TOTALS_IN,
            "Optional; when sent they must equal what the lines add up to, else 422.",
        ),
        "draft": named("A draft (stored, never synced until booked)", DRAFT_IN),
    },
    created={
        "booked": named("Booked: pending in each active integration", INVOICE_CREATED),
        "draft": named("A draft: no sync entries", DRAFT_OUT),
    },
    page={
        "first_page": named(
            "A page with more to come",
            {"data": [INVOICE_FAILED], "next_cursor": FIRST_PAGE_CURSOR},
            "Pass next_cursor as ?cursor= for the next page.",
        ),
        "last_page": named("The last page", {"data": [INVOICE_BOOKED], "next_cursor": None}),
    },
    read={
        "booked": named("Booked in Exact and Yuki", INVOICE_BOOKED),
        "failed": named(
            "Failed in Exact (retryable), booked in Yuki",
            INVOICE_FAILED,
            "retryable: true — POST /retry, or it is in GET /v1/dead-letters.",
        ),
        "sent_to_lexware": named(
            "Sent to Lexware Office as a draft voucher",
            GERMAN_INVOICE_SENT,
            "booking_number stays null until the voucher is finalised in Lexware Office.",
        ),
    },
    patch={"lines_and_due_date": named("New due date and lines", INVOICE_PATCH)},
    patched={
        "synced": named("Already synced: pushed again to Yuki, not to Exact", INVOICE_PATCHED)
    },
    booked={"booked": named("The draft, now booked and pending", DRAFT_BOOKED)},
    retried={"retried": named("Pending again where it failed", INVOICE_RETRIED)},
)
CREDIT_NOTE_EXAMPLES = DocumentExamples(
    create={"booked": named("A credit note for invoice 2026-0001", CREDIT_NOTE_IN)},
    created={"booked": named("Booked: pending in each active integration", CREDIT_NOTE_CREATED)},
    page={"last_page": named("The last page", {"data": [CREDIT_NOTE_BOOKED], "next_cursor": None})},
    read={"booked": named("Booked in Exact and Yuki", CREDIT_NOTE_BOOKED)},
    patch={"due_date": named("A new due date", CREDIT_NOTE_PATCH)},
    patched={
        "synced": named("Already synced: pushed again to Yuki, not to Exact", CREDIT_NOTE_PATCHED)
    },
    booked={"booked": named("Booked and pending", CREDIT_NOTE_CREATED)},
    retried={"retried": named("Pending again in Exact", CREDIT_NOTE_RETRIED)},
)
DOCUMENT_EXAMPLES = {"invoice": INVOICE_EXAMPLES, "credit_note": CREDIT_NOTE_EXAMPLES}
