"""The lock under which a new customer is matched or created: a wait for it is bounded,
so a holder that hangs cannot hold the next documents for ever."""

from __future__ import annotations

import asyncio
import uuid

import pytest
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
