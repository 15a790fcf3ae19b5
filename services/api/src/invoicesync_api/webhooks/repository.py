"""All SQL over webhook endpoints, deliveries and attempts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import (
    DateTime,
    Float,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import Insert

from invoicesync_api import pagination
from invoicesync_api.errors.exceptions import NotFound
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.webhooks.models import (
    CANCELED,
    ENABLED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


async def get_endpoint(
    session: AsyncSession, endpoint_id: uuid.UUID, partner_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    """The partner's endpoint; raises ``NotFound`` for a missing or foreign id alike."""
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.partner_id == partner_id
    )
    endpoint = await session.scalar(query.with_for_update(key_share=True) if lock else query)
    if endpoint is None:
        raise NotFound(N_("No such webhook endpoint."))
    return endpoint


async def add_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Store a new endpoint and read back what the database filled in."""
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def save_endpoint(session: AsyncSession) -> None:
    """Write the endpoint's changes now, before the answer is built from it."""
    await session.flush()


async def delete_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """Remove the endpoint; its deliveries and attempts go with it (on delete cascade)."""
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


async def list_endpoints(session: AsyncSession, partner_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.partner_id == partner_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return rows.all()


def _queue_statement() -> Insert:
    """``queue_for_subscribed``'s statement, built once: on the table (Core, no ORM
    bulk-insert bookkeeping), its values bound per call."""
    table = cast(Table, WebhookDelivery.__table__)
    subscribed = select(
        func.gen_random_uuid(),
        WebhookEndpoint.id,
        bindparam("event_id", type_=String),
        bindparam("event_type", type_=String),
        sql_cast(bindparam("payload", type_=Text), JSONB),  # the JSON text, parsed once
        literal(PENDING, String),
        literal(0),
        bindparam("due", type_=DateTime(timezone=True)),
    ).where(
        WebhookEndpoint.partner_id == bindparam("partner_id"),
        WebhookEndpoint.status == ENABLED,
        or_(
            WebhookEndpoint.events.contains(bindparam("wanted", type_=ARRAY(String))),
            WebhookEndpoint.events.contains(["*"]),
        ),
    )
    columns = (
        "id",
        "endpoint_id",
        "event_id",
        "event_type",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
    )
    return insert(table).from_select(columns, subscribed).returning(table.c.id)


_QUEUE = _queue_statement()


async def queue_for_subscribed(
    session: AsyncSession,
    partner_id: uuid.UUID,
    event_type: str,
    event_id: str,
    payload: str,
    due: datetime,
) -> int:
    """A pending delivery of ``payload`` (the body as JSON text) for each of the
    partner's enabled endpoints that asked for ``event_type`` (or for everything), in one
    statement (no read of the endpoints first); returns how many were queued."""
    values = {
        "partner_id": partner_id,
        "event_id": event_id,
        "event_type": event_type,
        "wanted": [event_type],
        "payload": payload,
        "due": due,
    }
    queued = await session.execute(_QUEUE, values)
    return len(queued.all())


async def get_delivery(
    session: AsyncSession, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, *, lock: bool = False
) -> WebhookDelivery:
    query = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    delivery = await session.scalar(query.with_for_update(key_share=True) if lock else query)
    if delivery is None:
        raise NotFound(N_("No such delivery for this endpoint."))
    return delivery


async def list_deliveries(
    session: AsyncSession, endpoint_id: uuid.UUID, *, limit: int, cursor: str | None
) -> tuple[Sequence[WebhookDelivery], str | None]:
    """Newest first, keyset-paginated on (created_at, id) so pages never shift."""
    return await pagination.newest_first(
        session,
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id),
        created_at=WebhookDelivery.created_at,
        ident=WebhookDelivery.id,
        limit=limit,
        cursor=cursor,
    )


async def newest_deliveries_of(
    session: AsyncSession, endpoint_ids: Sequence[uuid.UUID], *, per_endpoint: int
) -> dict[uuid.UUID, list[WebhookDelivery]]:
    """Each endpoint's ``per_endpoint`` newest deliveries, newest first, in one statement
    for a page of endpoints: a lateral join walks each endpoint's own index range."""
    by_endpoint: dict[uuid.UUID, list[WebhookDelivery]] = {e: [] for e in endpoint_ids}
    if not endpoint_ids:
        return by_endpoint
    newest = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == WebhookEndpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(per_endpoint)
        .lateral("newest")
    )
    shown = aliased(WebhookDelivery, newest)
    rows = await session.scalars(
        select(shown)
        .select_from(WebhookEndpoint)
        .join(newest, true())
        .where(WebhookEndpoint.id.in_(endpoint_ids))
        .order_by(shown.endpoint_id, shown.created_at.desc(), shown.id.desc())
    )
    for delivery in rows:
        by_endpoint[delivery.endpoint_id].append(delivery)
    return by_endpoint


async def add_delivery(session: AsyncSession, delivery: WebhookDelivery) -> WebhookDelivery:
    """Store a new delivery and read back what the database filled in."""
    session.add(delivery)
    await session.flush()
    await session.refresh(delivery)
    return delivery


async def list_attempts(session: AsyncSession, delivery_id: uuid.UUID) -> Sequence[WebhookAttempt]:
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    )
    return rows.all()


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookAttempt]]:
    """Each delivery's attempts, oldest first: one statement for a page of deliveries."""
    by_delivery: dict[uuid.UUID, list[WebhookAttempt]] = {d: [] for d in delivery_ids}
    if not delivery_ids:
        return by_delivery
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempted_at, WebhookAttempt.id)
    )
    for attempt in rows:
        by_delivery[attempt.delivery_id].append(attempt)
    return by_delivery


async def claim_due(
    session: AsyncSession,
    now: datetime,
    *,
    limit: int,
    token: uuid.UUID,
    lease_seconds: float,
) -> Sequence[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Due pending deliveries of enabled endpoints no one holds, claimed with ``token`` for
    ``lease_seconds`` of the database's clock (a host with a skewed clock cannot take a
    live claim).

    SKIP LOCKED: dispatcher replicas take disjoint batches instead of waiting on each other;
    the claim, committed before sending, keeps a batch theirs while the POSTs run outside
    any transaction, and its lease hands it back if the process dies.
    """
    held = WebhookDelivery.claimed_until > func.clock_timestamp()
    rows = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.status == ENABLED,
                or_(WebhookDelivery.claimed_until.is_(None), ~held),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
    ).all()
    lease = func.make_interval(0, 0, 0, 0, 0, 0, literal(lease_seconds, Float()))
    for delivery, _ in rows:
        delivery.claim_token = token
        delivery.claimed_until = func.clock_timestamp() + lease
    return [(delivery, endpoint) for delivery, endpoint in rows]


async def lock_deliveries(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, WebhookDelivery]:
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
        .with_for_update(key_share=True)
    )
    return {row.id: row for row in rows}


async def lock_endpoints(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, WebhookEndpoint]:
    """Locked in id order, so two dispatchers recording results never deadlock."""
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id.in_(ids))
        .order_by(WebhookEndpoint.id)
        .with_for_update(key_share=True)
    )
    return {row.id: row for row in rows}


async def cancel_pending(session: AsyncSession, endpoint_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == PENDING)
        .values(status=CANCELED, next_attempt_at=None, last_error=reason)
    )
