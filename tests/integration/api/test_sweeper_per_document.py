"""The sweeper judges each document on its own: a lost request is asked again although its
connector keeps answering others; a backlog is not asked again; both are measured."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog
import structlog.testing
from prometheus_client import REGISTRY
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.app import metrics_app
from invoicesync_api.db.models import DocumentSync
from invoicesync_api.workers.sweeper import PendingSweeper
from invoicesync_shared.db.models import Integration
from tests.integration.api.conftest import add_integration, invoice
from tests.integration.api.test_sync_runs import booked, deliver, gave_up, outbox_rows, relayed
from tests.support.clocks import held_at
from tests.support.locks import until_it_waits_on_a_lock
from tests.support.servers import serve_in_thread

PENDING_AFTER = timedelta(minutes=10)
TICK = timedelta(microseconds=1)
"""The database's resolution: a moment on a boundary, and the first one past it."""


# The sweeper looks at the whole database: this file's counts and metrics are each test's own.
pytestmark = pytest.mark.usefixtures("only_this_tests_integrations")


def reasked(reason: str) -> float:
    return REGISTRY.get_sample_value("invoicesync_sweeper_reasked_total", {"reason": reason}) or 0.0


async def timed(
    sessionmaker: async_sessionmaker[AsyncSession],
    document_id: str,
    *,
    requested: timedelta,
    answered: timedelta | None = None,
) -> None:
    """Its request went out ``requested`` ago (and was answered ``answered`` ago)."""
    now = datetime.now(UTC)
    values: dict[str, object] = {"requested_at": now - requested}
    if answered is not None:
        values["answered_at"] = now - answered
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(document_id))
            .values(**values)
        )


async def test_a_lost_request_is_asked_again_while_its_connector_answers_others(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Busy all day: the connector answered a request issued after this one two minutes
    ago, so this one was consumed and its answer lost. It is asked again now, not at the
    next lull."""
    integration = await add_integration(sessionmaker, client_id)
    lost = partner.post("/v1/invoices", json=invoice(client_id, number="LOST-1")).json()["id"]
    later = partner.post("/v1/invoices", json=invoice(client_id, number="LOST-2")).json()["id"]
    await relayed(sessionmaker)
    await deliver(sessionmaker, booked(later, integration, None, "71001"))
    await timed(sessionmaker, lost, requested=timedelta(minutes=15))
    await timed(sessionmaker, later, requested=timedelta(minutes=12), answered=timedelta(minutes=2))
    before = reasked("overtaken")
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER)

    assert await sweeper.sweep_once(datetime.now(UTC)) == 1
    assert await outbox_rows(sessionmaker, lost) == 2
    assert reasked("overtaken") == before + 1
    await relayed(sessionmaker)
    # Asked again just now: its own wait starts over (and doubles), however busy it is.
    assert await sweeper.sweep_once(datetime.now(UTC)) == 0
    assert await sweeper.sweep_once(datetime.now(UTC) + timedelta(minutes=11)) == 0
    assert await outbox_rows(sessionmaker, lost) == 2


@pytest.mark.parametrize("overdue_after", [timedelta(hours=1), None], ids=["set", "default"])
async def test_a_backlog_is_not_asked_again_until_it_is_overdue(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    overdue_after: timedelta | None,
) -> None:
    """The connector works through older requests (answers a minute ago, each for a
    request older than every waiting one): the queue is not lengthened with copies; only
    after ``overdue_after`` (by default six times ``pending_after``: the same hour) is
    each waiting document asked once more."""
    integration = await add_integration(sessionmaker, client_id)
    numbers = [f"BACK-{n}" for n in range(5)]
    docs = [
        partner.post("/v1/invoices", json=invoice(client_id, number=n)).json()["id"]
        for n in numbers
    ]
    await relayed(sessionmaker)
    answered, queued = docs[:2], docs[2:]
    for n, doc in enumerate(answered):
        await deliver(sessionmaker, booked(doc, integration, None, f"7200{n}"))
        await timed(
            sessionmaker, doc, requested=timedelta(minutes=70), answered=timedelta(minutes=2)
        )
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER, overdue_after=overdue_after)
    for doc in queued:  # a minute short of the hour
        await timed(sessionmaker, doc, requested=timedelta(minutes=59))
    for _ in range(3):
        assert await sweeper.sweep_once(datetime.now(UTC)) == 0
    assert [await outbox_rows(sessionmaker, d) for d in queued] == [1, 1, 1]

    before = reasked("overdue")
    for doc in queued:
        await timed(sessionmaker, doc, requested=timedelta(minutes=61))
    assert await sweeper.sweep_once(datetime.now(UTC)) == len(queued)
    assert reasked("overdue") == before + len(queued)
    await relayed(sessionmaker)
    assert await sweeper.sweep_once(datetime.now(UTC)) == 0
    assert [await outbox_rows(sessionmaker, d) for d in queued] == [2, 2, 2]


async def test_an_answer_proves_an_earlier_request_lost_only_after_a_grace(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Results are applied a moment apart: an answer to a later request proves this one
    lost only once it is a tenth of ``pending_after`` old (30 s here; at most a minute)."""
    integration = await add_integration(sessionmaker, client_id)
    lost = partner.post("/v1/invoices", json=invoice(client_id, number="GRACE-1")).json()["id"]
    later = partner.post("/v1/invoices", json=invoice(client_id, number="GRACE-2")).json()["id"]
    await relayed(sessionmaker)
    await deliver(sessionmaker, booked(later, integration, None, "73001"))
    now = datetime.now(UTC)
    await timed(sessionmaker, lost, requested=timedelta(minutes=15))
    answered = timedelta(seconds=29.5)
    await timed(sessionmaker, later, requested=timedelta(minutes=12), answered=answered)
    sweeper = PendingSweeper(sessionmaker, pending_after=timedelta(minutes=5))

    assert await sweeper.sweep_once(now) == 0  # the answer is under 30 s old
    assert await sweeper.sweep_once(datetime.now(UTC) + timedelta(seconds=4)) == 1
    assert await outbox_rows(sessionmaker, lost) == 2


async def test_a_sweep_asks_again_at_most_its_batch(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A large loss is asked for again batch by batch, not in one transaction."""
    await add_integration(sessionmaker, client_id)
    docs = [
        partner.post("/v1/invoices", json=invoice(client_id, number=f"BATCH-{n}")).json()["id"]
        for n in range(3)
    ]
    await relayed(sessionmaker)
    for doc in docs:
        await timed(sessionmaker, doc, requested=timedelta(minutes=15))  # the connector idle
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER, batch_size=2)

    with structlog.testing.capture_logs() as logs:
        assert await sweeper.sweep_once(datetime.now(UTC)) == 2
        assert await sweeper.sweep_once(datetime.now(UTC)) == 1
        assert await sweeper.sweep_once(datetime.now(UTC)) == 0  # nothing to tell

    told = [(e["event"], e["log_level"], e["documents"]) for e in logs if "documents" in e]
    assert told == [("re-requested lost or ambiguous documents", "warning", n) for n in (2, 1)]
    assert [await outbox_rows(sessionmaker, d) for d in docs] == [2, 2, 2]


class _Observed(PendingSweeper):
    """The real sweeper; its first sweep fails (the database away), and the third stops it."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(sessionmaker, pending_after=PENDING_AFTER, interval=0.01)
        self.sweeps = 0

    async def sweep_once(self, now: datetime | None = None) -> int:
        self.sweeps += 1
        if self.sweeps == 1:
            raise ConnectionRefusedError("the database is away")
        if self.sweeps == 3:
            self.stop()
        return await super().sweep_once(now)


async def test_the_loop_sweeps_every_interval_past_a_failed_sweep_until_stopped(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sweeper = _Observed(sessionmaker)
    with structlog.testing.capture_logs() as logs:
        await sweeper.run()  # returns once stopped

    assert sweeper.sweeps == 3
    assert [(e["event"], e["log_level"]) for e in logs if e.get("exc_info")] == [
        ("sweep failed", "error")
    ]


async def test_an_ambiguous_match_waits_for_a_person(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Several remote entries could be ours: asking again would find the same ones."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="AMB-1")).json()["id"]
    await gave_up(sessionmaker, doc, integration, "ambiguous_match")
    sync = partner.get(f"/v1/invoices/{doc}").json()["sync"][0]
    assert (sync["status"], sync["error"]["code"]) == ("ambiguous", "ambiguous_match")
    await relayed(sessionmaker)
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER)
    assert await sweeper.sweep_once(datetime.now(UTC) + timedelta(hours=2)) == 0
    assert await outbox_rows(sessionmaker, doc) == 1


async def test_the_oldest_waiting_request_is_measured(
    api_url: str,
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="OLD-1")).json()["id"]
    await relayed(sessionmaker)
    await timed(sessionmaker, doc, requested=timedelta(hours=3))
    await PendingSweeper(sessionmaker, pending_after=PENDING_AFTER).sweep_once()  # asks again

    with serve_in_thread(metrics_app()) as metrics_url:
        metrics = httpx.get(f"{metrics_url}/metrics").text
    (line,) = [
        m for m in metrics.splitlines() if m.startswith("invoicesync_sweeper_oldest_pending_")
    ]
    assert float(line.split()[-1]) >= timedelta(hours=3).total_seconds()
    assert "invoicesync_sweeper_reasked_total" in metrics


def oldest_pending() -> float | None:
    return REGISTRY.get_sample_value("invoicesync_sweeper_oldest_pending_age_seconds")


async def test_the_oldest_measure_counts_only_requests_still_out_on_active_integrations(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Answered requests, requests held back on purpose (a spent budget) and those of an
    integration no longer active are not waiting for anyone: they do not age the measure."""
    sweeper = PendingSweeper(sessionmaker, pending_after=timedelta(days=30))  # asks nothing
    await sweeper.sweep_once()
    assert oldest_pending() == 0.0  # nothing out

    exact = await add_integration(sessionmaker, client_id)
    other_client = partner.post("/v1/clients", json={"name": "Other", "country": "NL"}).json()
    stopped = await add_integration(sessionmaker, other_client["id"])

    def post(client: str, number: str) -> str:
        return str(partner.post("/v1/invoices", json=invoice(client, number=number)).json()["id"])

    waiting = post(client_id, "AGE-1")
    answered = post(client_id, "AGE-2")
    held = post(client_id, "AGE-3")
    inactive = post(other_client["id"], "AGE-4")
    await relayed(sessionmaker)
    await deliver(sessionmaker, booked(answered, exact, None, "AGE-B2"))
    for document, hours in ((waiting, 1), (answered, 4), (held, 5), (inactive, 6)):
        await timed(sessionmaker, document, requested=timedelta(hours=hours))
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(held))
            .values(waiting_until=datetime.now(UTC) + timedelta(hours=1))
        )
        await session.execute(
            update(Integration).where(Integration.id == stopped).values(status="deactivated")
        )

    await sweeper.sweep_once()
    age = oldest_pending()
    assert age is not None
    assert timedelta(hours=1).total_seconds() <= age < timedelta(hours=1, minutes=5).total_seconds()
    # A clock behind the request's never measures a negative age.
    await sweeper.sweep_once(datetime.now(UTC) - timedelta(hours=2))
    assert oldest_pending() == 0.0


async def stamped(
    sessionmaker: async_sessionmaker[AsyncSession], document_id: str, **values: object
) -> None:
    """Its sync row's times (and sweeps) set to exactly ``values``."""
    async with sessionmaker.begin() as session:
        await session.execute(
            update(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(document_id))
            .values(**values)
        )


@pytest.mark.parametrize(
    ("sweeps", "wait"),
    [(0, PENDING_AFTER), (1, PENDING_AFTER * 2), (7, PENDING_AFTER * 64)],
    ids=["first", "doubled", "at-most-64-times"],
)
async def test_a_document_is_asked_again_the_moment_its_wait_is_over(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    sweeps: int,
    wait: timedelta,
) -> None:
    """The connector idle: a request is asked again once ``pending_after`` (doubled with
    each re-ask, 64 times at most) has passed, not a moment before."""
    await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="EDGE-1")).json()["id"]
    await relayed(sessionmaker)
    now = datetime.now(UTC)
    await stamped(sessionmaker, doc, requested_at=now - wait, sweeps=sweeps)
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER)
    before = reasked("idle")

    assert await sweeper.sweep_once(now) == 0
    assert await sweeper.sweep_once(now + TICK) == 1
    assert reasked("idle") == before + 1
    assert await outbox_rows(sessionmaker, doc) == 2


async def test_an_ambiguous_document_is_asked_again_the_moment_its_wait_is_over(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """An outcome unknown waits ``pending_after`` since it was last changed, however long
    ago it was requested (it is not judged as a request still out)."""
    integration = await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="EDGE-A")).json()["id"]
    await gave_up(sessionmaker, doc, integration, "outcome_unknown")
    await relayed(sessionmaker)
    now = datetime.now(UTC)
    await stamped(
        sessionmaker, doc, requested_at=now - timedelta(days=3), updated_at=now - PENDING_AFTER
    )
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER)
    before = reasked("ambiguous")

    assert await sweeper.sweep_once(now) == 0
    assert await sweeper.sweep_once(now + TICK) == 1
    assert reasked("ambiguous") == before + 1


async def test_a_deferred_document_is_asked_again_the_moment_its_wait_ends(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Deferred until a reset, by the shared clock: however long ago it was requested (the
    connector idle), it is left alone before, and asked again from the reset on."""
    await add_integration(sessionmaker, client_id)
    doc = partner.post("/v1/invoices", json=invoice(client_id, number="EDGE-D")).json()["id"]
    await relayed(sessionmaker)
    now = datetime.now(UTC)
    reset = now + timedelta(hours=5)
    await stamped(sessionmaker, doc, requested_at=now - timedelta(days=3), waiting_until=reset)
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER)
    before = reasked("wait_over")

    with held_at(reset - TICK):
        assert await sweeper.sweep_once(now) == 0
    with held_at(reset):
        assert await sweeper.sweep_once(now) == 1
    assert reasked("wait_over") == before + 1
    assert await outbox_rows(sessionmaker, doc) == 2


async def test_a_sweep_passes_over_rows_another_sweep_holds(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Another API replica sweeping holds its rows: this sweep asks for the others without
    waiting for them, and so never asks for a document twice."""
    await add_integration(sessionmaker, client_id)
    held, free = (
        partner.post("/v1/invoices", json=invoice(client_id, number=n)).json()["id"]
        for n in ("HELD-1", "HELD-2")
    )
    await relayed(sessionmaker)
    for doc in (held, free):
        await stamped(sessionmaker, doc, requested_at=datetime.now(UTC) - timedelta(hours=1))
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER)

    async with sessionmaker.begin() as other:
        await other.execute(
            select(DocumentSync)
            .where(DocumentSync.document_id == uuid.UUID(held))
            .with_for_update()
        )
        sweeping = asyncio.create_task(sweeper.sweep_once(datetime.now(UTC)))
        await until_it_waits_on_a_lock(sessionmaker, sweeping, "%")
        waited = not sweeping.done()
    assert not waited
    assert await sweeping == 1
    assert [await outbox_rows(sessionmaker, d) for d in (held, free)] == [1, 2]
    await relayed(sessionmaker)
    assert await sweeper.sweep_once(datetime.now(UTC)) == 1  # released: its turn now
    assert [await outbox_rows(sessionmaker, d) for d in (held, free)] == [2, 2]


async def lost_and_answered(
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    now: datetime,
    *,
    lost: timedelta,
    other: timedelta,
    answered: timedelta,
) -> str:
    """A document requested ``lost`` before ``now`` (untouched since) and still pending;
    another of the same integration requested ``other`` before and answered ``answered``
    before. The first."""
    integration = await add_integration(sessionmaker, client_id)
    waiting, done = (
        partner.post("/v1/invoices", json=invoice(client_id, number=n)).json()["id"]
        for n in (f"W-{uuid.uuid4().hex[:8]}", f"A-{uuid.uuid4().hex[:8]}")
    )
    await relayed(sessionmaker)
    await deliver(sessionmaker, booked(done, integration, None, f"R-{done[:8]}"))
    await stamped(sessionmaker, waiting, requested_at=now - lost, updated_at=now - lost)
    await stamped(sessionmaker, done, requested_at=now - other, answered_at=now - answered)
    return str(waiting)


async def test_an_answer_proves_a_request_lost_from_the_moment_its_grace_is_over(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A later request answered exactly a grace (a minute here) ago does not prove this one
    lost yet; a moment later it does."""
    now = datetime.now(UTC)
    doc = await lost_and_answered(
        partner,
        client_id,
        sessionmaker,
        now,
        lost=timedelta(minutes=15),
        other=timedelta(minutes=12),
        answered=timedelta(minutes=1),
    )
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER)

    assert await sweeper.sweep_once(now) == 0
    assert await sweeper.sweep_once(now + TICK) == 1
    assert await outbox_rows(sessionmaker, doc) == 2


async def test_an_answer_at_the_moment_of_its_request_proves_an_earlier_one_lost(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Requested and answered in the same moment (the database's clock): still an answer
    to a later request."""
    now = datetime.now(UTC)
    doc = await lost_and_answered(
        partner,
        client_id,
        sessionmaker,
        now,
        lost=timedelta(minutes=15),
        other=timedelta(minutes=5),
        answered=timedelta(minutes=5),
    )
    before = reasked("overtaken")
    assert await PendingSweeper(sessionmaker, pending_after=PENDING_AFTER).sweep_once(now) == 1
    assert reasked("overtaken") == before + 1
    assert await outbox_rows(sessionmaker, doc) == 2


async def test_a_connector_is_idle_from_the_moment_its_last_answer_is_a_wait_old(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The connector answered an older request exactly ``pending_after`` ago: still
    working through a backlog. A moment later it is idle, and the waiting one is lost."""
    now = datetime.now(UTC)
    doc = await lost_and_answered(
        partner,
        client_id,
        sessionmaker,
        now,
        lost=timedelta(minutes=15),
        other=timedelta(minutes=70),
        answered=PENDING_AFTER,
    )
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER)
    before = reasked("idle")

    assert await sweeper.sweep_once(now) == 0
    assert await sweeper.sweep_once(now + TICK) == 1
    assert reasked("idle") == before + 1
    assert await outbox_rows(sessionmaker, doc) == 2


async def test_requests_made_in_the_same_moment_do_not_overtake_each_other(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Asked in one transaction (one database moment), answered one by one: the answer to
    one proves nothing about the other, still queued behind it."""
    now = datetime.now(UTC)
    doc = await lost_and_answered(
        partner,
        client_id,
        sessionmaker,
        now,
        lost=timedelta(minutes=15),
        other=timedelta(minutes=15),
        answered=timedelta(minutes=5),
    )
    assert await PendingSweeper(sessionmaker, pending_after=PENDING_AFTER).sweep_once(now) == 0
    assert await outbox_rows(sessionmaker, doc) == 1


async def test_an_answer_to_an_earlier_request_of_a_document_asked_again_is_no_proof(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The other document's last request went out after its answer (it was asked for
    again): that answer is to an earlier request, and proves nothing about this one."""
    now = datetime.now(UTC)
    doc = await lost_and_answered(
        partner,
        client_id,
        sessionmaker,
        now,
        lost=timedelta(minutes=15),
        other=timedelta(minutes=3),
        answered=timedelta(minutes=5),
    )
    assert await PendingSweeper(sessionmaker, pending_after=PENDING_AFTER).sweep_once(now) == 0
    assert await outbox_rows(sessionmaker, doc) == 1


async def test_a_backlog_is_overdue_from_the_moment_its_wait_is_over(
    partner: httpx.Client, client_id: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Queued behind a working connector: asked again once ``overdue_after`` (six times
    ``pending_after`` by default) has passed, not a moment before."""
    now = datetime.now(UTC)
    doc = await lost_and_answered(
        partner,
        client_id,
        sessionmaker,
        now,
        lost=PENDING_AFTER * 6,
        other=timedelta(minutes=70),
        answered=timedelta(minutes=2),
    )
    sweeper = PendingSweeper(sessionmaker, pending_after=PENDING_AFTER)
    before = reasked("overdue")

    assert await sweeper.sweep_once(now) == 0
    assert await sweeper.sweep_once(now + TICK) == 1
    assert reasked("overdue") == before + 1
    assert await outbox_rows(sessionmaker, doc) == 2
