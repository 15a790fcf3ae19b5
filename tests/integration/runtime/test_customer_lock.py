"""The lock under which a new customer is matched or created: a wait for it is bounded,
so a holder that hangs cannot hold the next documents for ever."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_shared.connectors import customers as customers_module
from invoicesync_shared.connectors.customers import CustomerLinks, RemoteCustomer
from invoicesync_shared.connectors.errors import TransientError

BOUND = 20.0  # a hang is a failure here, not a wait


def links(sessionmaker: async_sessionmaker[AsyncSession], client_id: uuid.UUID) -> CustomerLinks:
    return CustomerLinks(sessionmaker, client_id=client_id, system="exact", scope="1")


async def hold_lock(
    customer_links: CustomerLinks, release: asyncio.Event, holding: asyncio.Event
) -> tuple[RemoteCustomer, bool]:
    async def create_slowly() -> tuple[RemoteCustomer, bool]:
        holding.set()
        await release.wait()  # the accounting system takes its time
        return RemoteCustomer("remote-1"), True

    return await customer_links.resolve("cust-1", create_slowly)


async def test_a_wait_for_the_customer_lock_is_bounded(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(customers_module, "LOCK_WAIT_MS", 200)
    client_id = uuid.uuid4()
    release, holding = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold_lock(links(sessionmaker, client_id), release, holding))
    await asyncio.wait_for(holding.wait(), BOUND)

    async def never_called() -> tuple[RemoteCustomer, bool]:
        raise AssertionError("matched while another held the lock")

    with pytest.raises(TransientError, match="another push"):
        await asyncio.wait_for(
            links(sessionmaker, client_id).resolve("cust-1", never_called), BOUND
        )
    release.set()
    assert (await asyncio.wait_for(holder, BOUND))[1] is True


async def test_many_first_customers_at_once_do_not_exhaust_the_pool(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """30 companies' first customers at once (a fleet's first documents; the consumer
    runs 32 handlers) on a pool of 10 + 10: each holder of a customer lock holds a
    connection and needs a second meanwhile (its token, its pacing slot). With a holder
    per connection, none gets its second one and all wait for the pool's timeout; the
    holders are bounded below half the pool, so they finish."""

    async def first_sighting(n: int) -> tuple[RemoteCustomer, bool]:
        async def create() -> tuple[RemoteCustomer, bool]:
            async with sessionmaker() as session:  # the token lookup, the pacing slot
                await session.execute(select(func.pg_sleep(0.05)))
            return RemoteCustomer(f"remote-{n}"), True

        return await links(sessionmaker, uuid.uuid4()).resolve("cust-1", create)

    results = await asyncio.wait_for(asyncio.gather(*map(first_sighting, range(30))), BOUND)
    assert all(created for _, created in results)


async def test_a_supplier_and_a_customer_with_the_same_id_are_linked_apart(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A source application numbers customers and suppliers in separate lists: its
    customer 42 and its supplier 42 are two relations, never one by accident."""
    client_id = uuid.uuid4()
    customers = links(sessionmaker, client_id)
    suppliers = CustomerLinks(
        sessionmaker, client_id=client_id, system="exact", scope="1", role="supplier"
    )

    async def created(remote_id: str) -> tuple[RemoteCustomer, bool]:
        return RemoteCustomer(remote_id), True

    assert await customers.resolve("42", lambda: created("debtor")) == (
        RemoteCustomer("debtor"),
        True,
    )
    assert await suppliers.find("42") is None
    assert await suppliers.resolve("42", lambda: created("creditor")) == (
        RemoteCustomer("creditor"),
        True,
    )
    assert await customers.find("42") == RemoteCustomer("debtor")
    assert await suppliers.find("42") == RemoteCustomer("creditor")
    # The longest id the API takes is linked as a supplier too (no prefix overflows it),
    # and a customer id spelled like a prefixed supplier id is still another relation.
    longest = "s" * 128
    assert await suppliers.resolve(longest, lambda: created("long")) == (
        RemoteCustomer("long"),
        True,
    )
    assert await customers.find("supplier:42") is None
