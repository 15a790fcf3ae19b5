"""The accept path's storage: what a new document needs read in one statement (which also
claims the request's Idempotency-Key), and the document, its sync rows, its outbox event
and the idempotent answer written in one more.

The write checks that the client's integrations are still those the read found: it holds
them (``FOR KEY SHARE``) while it runs, and writes nothing if one was connected, relinked
or deactivated since. Every status change of an integration locks its row (``FOR UPDATE``)
first, so a change and an acceptance are ordered: a repair's sync run sees the document, or
the document sees the integration active; never neither.

The claim rides on the read: the read is autocommitted, so a concurrent request with the
same key sees the claim as soon as the read returns, as it saw a claim made by a statement of
its own (documents/idempotency.py); the key is claimed before the document is checked.

Accepting documents is the API's hot path, and its cost is round trips and per-statement
work, not SQL (tests/integration/api/test_accept_statements.py counts them): both
statements are built once with bind parameters (compiled once, prepared once per
connection) and run autocommitted, without BEGIN and COMMIT. The write is a single
statement, so it is atomic on its own: the document, its sync rows, its event, a purchase
document's file and the stored answer are there together, or none of them is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    Table,
    Text,
    TextClause,
    bindparam,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from invoicesync_api.db.models import (
    PURCHASE_KIND,
    SALES_KIND,
    Client,
    Document,
    DocumentSync,
    IdempotencyKey,
)
from invoicesync_api.documents import fanout
from invoicesync_api.documents.files import NewFile
from invoicesync_shared.db.models import DocumentFile, Integration, OutboxMessage
from invoicesync_shared.events.documents import PURCHASE_KINDS
from invoicesync_shared.outbox import writer as outbox
from invoicesync_shared.outbox.writer import OutboxRow

CLIENTS = cast(Table, Client.__table__)
DOCUMENTS = cast(Table, Document.__table__)
SYNCS = cast(Table, DocumentSync.__table__)
OUTBOX = cast(Table, OutboxMessage.__table__)
KEYS = cast(Table, IdempotencyKey.__table__)
FILES = cast(Table, DocumentFile.__table__)
FILE_FIELDS = ("id", "filename", "content_type", "size", "sha256", "content")
INTEGRATIONS = fanout.INTEGRATIONS

COMPANY_COLUMNS = ("name", "vat_number", "company_number", "address", "country", "email")


@dataclass(frozen=True)
class Claim:
    """An Idempotency-Key to claim with the read: a new row holding ``token``, unless the
    partner's key is there already."""

    key: str
    request_hash: str
    token: uuid.UUID


class KeyTaken(Exception):
    """The key of the request's ``Claim`` is there already (another request's claim, or
    its stored answer): nothing was claimed. ``answer``: the answer stored under it for
    the same body, to replay as it is; else the caller settles it (idempotency.py)."""

    def __init__(self, answer: tuple[int, dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.answer = answer


@dataclass(frozen=True)
class Context:
    """What a new document of a client needs: the client (as the event's company data),
    the integrations that will push it, and the document that already has its number."""

    client: Client
    integrations: list[Integration]
    duplicate_id: uuid.UUID | None


@dataclass(frozen=True)
class Answer:
    """The response an Idempotency-Key replays, stored with what it describes."""

    partner_id: uuid.UUID
    key: str
    status: int
    body: dict[str, Any]


def _context_statement(purchase: bool) -> Select[Any]:
    """``purchase``: a purchase number is its supplier's. Each side's lookup repeats its
    unique index's predicate literally, so even a generic plan can use that index."""
    same_number: list[ColumnElement[bool] | TextClause] = [
        DOCUMENTS.c.client_id == CLIENTS.c.id,
        DOCUMENTS.c.kind == bindparam("kind"),
        DOCUMENTS.c.number == bindparam("number"),
    ]
    if purchase:
        # The index's expression to the letter: 'external_id' a literal, not a parameter.
        key = DOCUMENTS.c.customer.op("->>", return_type=Text())(literal_column("'external_id'"))
        same_number += [PURCHASE_KIND, key == bindparam("party_key", type_=Text())]
    else:
        same_number.append(SALES_KIND)
    duplicate = select(DOCUMENTS.c.id).where(*same_number).limit(1).scalar_subquery()
    eligible = fanout.takes_part(bindparam("now", type_=INTEGRATIONS.c.activated_at.type))
    found = (
        select(
            *(CLIENTS.c[name] for name in ("id", *COMPANY_COLUMNS)),
            INTEGRATIONS.c.id.label("integration_id"),
            INTEGRATIONS.c.system,
            INTEGRATIONS.c.status.label("integration_status"),
            INTEGRATIONS.c.settings["start_date"].astext.label("start_date"),
            duplicate.label("duplicate_id"),
        )
        .select_from(
            CLIENTS.outerjoin(INTEGRATIONS, (INTEGRATIONS.c.client_id == CLIENTS.c.id) & eligible)
        )
        .where(CLIENTS.c.id == bindparam("client_id"), CLIENTS.c.partner_id == bindparam("partner"))
        .subquery("found")
    )
    claim_key = bindparam("claim_key", type_=KEYS.c.key.type)
    claim = (
        pg_insert(KEYS)
        .from_select(
            ["partner_id", "key", "request_hash", "claim_token"],
            select(
                bindparam("partner", type_=KEYS.c.partner_id.type),
                claim_key,
                bindparam("claim_hash", type_=KEYS.c.request_hash.type),
                bindparam("claim_token", type_=KEYS.c.claim_token.type),
            ).where(claim_key.is_not(None)),
        )
        .on_conflict_do_nothing()
        .returning(KEYS.c.key)
        .cte("claim")
    )
    claimed = select(func.count()).select_from(claim).scalar_subquery() > 0
    # A key found taken: its row as committed before this statement (none if it was claimed
    # meanwhile), read only then. A stored answer for the same body is replayed from it.
    existing = (
        select(
            KEYS.c.request_hash.label("taken_hash"),
            KEYS.c.response_status.label("taken_status"),
            KEYS.c.response_body.label("taken_body"),
        )
        .where(
            KEYS.c.partner_id == bindparam("partner"),
            KEYS.c.key == claim_key,
            ~select(claim.c.key).exists(),
        )
        .subquery("taken")
    )
    # Always one row at least (the claim's outcome), the client's columns null if none.
    one = select(literal(1).label("one")).subquery("one")
    return select(claimed.label("claimed"), *found.c, *existing.c).select_from(
        one.outerjoin(found, true()).outerjoin(existing, true())
    )


CONTEXT = {False: _context_statement(False), True: _context_statement(True)}


async def context(
    connection: AsyncConnection,
    *,
    client_id: uuid.UUID,
    partner_id: uuid.UUID,
    kind: str,
    number: str,
    party_key: str,
    now: datetime,
    claim: Claim | None = None,
) -> Context | None:
    """None: the partner has no such client. Raises KeyTaken if ``claim`` was not taken
    (what was read is then of no use)."""
    rows = (
        await connection.execute(
            CONTEXT[kind in PURCHASE_KINDS],
            {
                "client_id": client_id,
                "partner": partner_id,
                "kind": kind,
                "number": number,
                "party_key": party_key,
                "now": now,
                "claim_key": claim.key if claim else None,
                "claim_hash": claim.request_hash if claim else None,
                "claim_token": claim.token if claim else None,
            },
        )
    ).all()
    first = rows[0]
    if claim is not None and not first.claimed:
        stored = first.taken_hash == claim.request_hash and first.taken_status is not None
        raise KeyTaken((first.taken_status, first.taken_body) if stored else None)
    if first.id is None:
        return None
    client = Client(id=first.id, **{name: getattr(first, name) for name in COMPANY_COLUMNS})
    integrations = [
        Integration(
            id=row.integration_id,
            client_id=first.id,
            system=row.system,
            status=row.integration_status,
            settings={"start_date": row.start_date},  # all fanout needs of them
        )
        for row in rows
        if row.integration_id is not None
    ]
    return Context(client, integrations, first.duplicate_id)


CREDITED = select(DOCUMENTS.c.partner_id, DOCUMENTS.c.client_id, DOCUMENTS.c.kind).where(
    DOCUMENTS.c.id == bindparam("id")
)


async def credited_invoice(
    connection: AsyncConnection,
    invoice_id: uuid.UUID,
    *,
    partner_id: uuid.UUID,
    kind: str = "invoice",
) -> uuid.UUID | None:
    """The client of the partner's document ``invoice_id`` of ``kind`` (the kind a credit
    note credits); None if there is no such document."""
    row = (await connection.execute(CREDITED, {"id": invoice_id})).first()
    if row is None or row.partner_id != partner_id or row.kind != kind:
        return None
    return cast(uuid.UUID, row.client_id)


DOCUMENT_FIELDS = tuple(c.key for c in DOCUMENTS.columns)
# What fanout.new_states sets on a new sync row, bound from those rows as they are.
STATE_FIELDS = ("status", "error_code", "error_message", "error_retryable", "generation", "sweeps")


def _integrations_unchanged() -> ColumnElement[bool]:
    """Whether the client's integrations taking part are still ``expected_ids`` (sorted),
    read after locking all of them: a status changed meanwhile is waited for and seen.
    A draft (no ``expected_ids``) is sent nowhere, so its integrations do not matter."""
    held = (
        select(INTEGRATIONS.c.id, INTEGRATIONS.c.status, INTEGRATIONS.c.activated_at)
        .where(INTEGRATIONS.c.client_id == bindparam("document_client_id"))
        .with_for_update(read=True, key_share=True)
        .cte("held_integrations")
        .prefix_with("MATERIALIZED")
    )
    taking_part = fanout.takes_part(bindparam("document_created_at"), held.c)
    ids = func.array_agg(aggregate_order_by(held.c.id, held.c.id)).filter(taking_part)
    id_array = ARRAY(UUID(as_uuid=True))
    found = select(func.coalesce(ids, literal([], id_array)))
    expected = bindparam("expected_ids", type_=id_array)
    return or_(expected.is_(None), found.scalar_subquery() == expected)


def _store_statement() -> Select[Any]:
    document = [
        bindparam(f"document_{name}", type_=DOCUMENTS.c[name].type).label(name)
        for name in DOCUMENT_FIELDS
    ]
    new_document = (
        insert(DOCUMENTS)
        .from_select(list(DOCUMENT_FIELDS), select(*document).where(_integrations_unchanged()))
        .returning(DOCUMENTS.c.id)
        .cte("new_document")
    )
    # One row per integration, as fanout.new_states made it (one array per column).
    targets = (
        func.unnest(
            bindparam("integration_ids", type_=ARRAY(UUID(as_uuid=True))),
            *(bindparam(f"state_{name}", type_=ARRAY(SYNCS.c[name].type)) for name in STATE_FIELDS),
        )
        .table_valued("integration_id", *STATE_FIELDS)
        .render_derived(name="targets")
    )
    new_syncs = insert(SYNCS).from_select(
        ["document_id", "integration_id", *STATE_FIELDS, "requested_at"],
        select(
            new_document.c.id,
            targets.c.integration_id,
            *(targets.c[name] for name in STATE_FIELDS),
            func.now(),  # asked now, on the database clock, as fanout.request_sync sets it
        ).select_from(new_document.join(targets, true())),
    )
    event = [
        bindparam(f"event_{name}", type_=OUTBOX.c[name].type).label(name) for name in outbox.COLUMNS
    ]
    new_event = insert(OUTBOX).from_select(
        list(outbox.COLUMNS),
        select(*event).select_from(new_document).where(bindparam("has_event", type_=Boolean())),
    )
    # A purchase document's file, with it (none for a sales document).
    new_file = insert(FILES).from_select(
        ["document_id", *FILE_FIELDS],
        select(
            new_document.c.id,
            *(bindparam(f"file_{name}", type_=FILES.c[name].type) for name in FILE_FIELDS),
        ).where(bindparam("has_file", type_=Boolean())),
    )
    answer = (
        update(KEYS)
        .where(
            KEYS.c.partner_id == bindparam("answer_partner"),
            KEYS.c.key == bindparam("answer_key"),
            select(new_document.c.id).exists(),
        )
        .values(
            response_status=bindparam("answer_status"),
            response_body=bindparam("answer_body", type_=JSONB),
        )
    )
    return select(new_document.c.id).add_cte(
        new_syncs.cte("new_syncs"),
        new_event.cte("new_event"),
        new_file.cte("new_file"),
        answer.cte("answer"),
    )


STORE = _store_statement()


async def store(
    connection: AsyncConnection,
    document: Document,
    states: Sequence[tuple[DocumentSync, Integration]],
    announcement: OutboxRow | None,
    answer: Answer | None,
    file: NewFile | None = None,
) -> bool:
    """Write it all in one statement. A number stored meanwhile by another request fails
    it on the unique constraint (IntegrityError, a 409), and nothing is written.
    False: nothing was written, as the client's integrations changed since the read (the
    caller reads again and builds the document anew)."""
    values: dict[str, Any] = {
        f"document_{name}": getattr(document, name) for name in DOCUMENT_FIELDS
    }
    values["integration_ids"] = [integration.id for _, integration in states]
    values.update(
        {f"state_{name}": [getattr(state, name) for state, _ in states] for name in STATE_FIELDS}
    )
    values["expected_ids"] = (
        sorted(integration.id for _, integration in states) if fanout.is_sent(document) else None
    )
    values["has_event"] = announcement is not None
    values["has_file"] = file is not None
    values.update({f"file_{name}": getattr(file, name, None) for name in FILE_FIELDS})
    event: Mapping[str, object] = announcement or {}
    values.update({f"event_{name}": event.get(name) for name in outbox.COLUMNS})
    values.update(
        {
            "answer_partner": answer.partner_id if answer else None,
            "answer_key": answer.key if answer else None,
            "answer_status": answer.status if answer else None,
            "answer_body": answer.body if answer else None,
        }
    )
    return (await connection.execute(STORE, values)).first() is not None
