"""Signed webhooks over real HTTP: endpoints API, delivery to a receiver that verifies the
Standard Webhooks signature, retries, the delivery log, replay, rotation and disabling.

The webhook router is not wired into ``create_app`` yet, so these tests include it into
an app built by ``create_app`` (same auth, errors and database); the dispatcher runs
in-process with a shifted clock, so retries are driven by moving time, never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.routing import Route

from invoicesync_api.app import create_app
from invoicesync_api.db.models import Notification
from invoicesync_api.settings import ApiSettings
from invoicesync_api.webhooks.delivery import WebhookDispatcher
from invoicesync_api.webhooks.models import WebhookDelivery, WebhookEndpoint
from invoicesync_api.webhooks.router import router as webhooks_router
from invoicesync_api.webhooks.service import publish
from invoicesync_api.webhooks.settings import WebhookSettings
from invoicesync_shared.crypto import SecretBox
from tests.integration.api.conftest import ADMIN_TOKEN, new_partner
from tests.support.clocks import held_at
from tests.support.servers import serve_in_thread
from tests.support.webhooks import Receiver, ShiftedClock, SlowReceiver

SETTINGS = WebhookSettings(
    retry_schedule=[1.0, 2.0, 3.0],  # 4 attempts
    jitter=0.0,
    timeout_seconds=5.0,
    disable_after_failed_deliveries=2,
    disable_after_failing_hours=1000.0,
    rotation_grace_hours=60 / 3600,  # one minute
    allow_loopback_urls=True,  # the receiver listens on 127.0.0.1, as under make run
)


def _webhooks_app(database_url: str, encryption_key: str, settings: WebhookSettings) -> Any:
    app = create_app(
        ApiSettings(
            database_url=SecretStr(database_url),
            encryption_keys=SecretStr(encryption_key),
            admin_token=SecretStr(ADMIN_TOKEN),
            run_workers=False,
        )
    )
    app.include_router(webhooks_router)
    app.state.webhook_settings = settings
    return app


@pytest.fixture(scope="module")
def wh_api_url(database_url: str, encryption_key: str) -> Iterator[str]:
    with serve_in_thread(_webhooks_app(database_url, encryption_key, SETTINGS)) as url:
        yield url


@pytest.fixture(scope="module")
def strict_api_url(database_url: str, encryption_key: str) -> Iterator[str]:
    strict = SETTINGS.model_copy(update={"allow_loopback_urls": False})
    with serve_in_thread(_webhooks_app(database_url, encryption_key, strict)) as url:
        yield url


def _delete_all_endpoints(client: httpx.Client) -> None:
    """Leave nothing pending that a later test's dispatcher would pick up."""
    for endpoint in client.get("/v1/webhook-endpoints").json():
        client.delete(f"/v1/webhook-endpoints/{endpoint['id']}")


@pytest.fixture
def partner(wh_api_url: str) -> Iterator[httpx.Client]:
    with new_partner(wh_api_url, "Hook Accountants") as client:
        yield client
        _delete_all_endpoints(client)


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def dispatcher(
    sessionmaker: async_sessionmaker[AsyncSession], secret_box: SecretBox, clock: ShiftedClock
) -> WebhookDispatcher:
    return WebhookDispatcher(sessionmaker, secret_box, SETTINGS, clock=clock)


def create_endpoint(
    client: httpx.Client, receiver: Receiver, events: list[str] | None = None
) -> dict[str, Any]:
    response = client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url, "events": events or ["*"], "description": "books"},
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    receiver.secret = endpoint["secret"]
    return endpoint


async def publish_to(
    sessionmaker: async_sessionmaker[AsyncSession],
    endpoint_id: str,
    event_type: str = "document.booked",
    data: dict[str, Any] | None = None,
) -> int:
    """Publish as the lead's code will: in the caller's transaction, for the partner."""
    async with sessionmaker.begin() as session:
        partner_id = await session.scalar(
            select(WebhookEndpoint.partner_id).where(WebhookEndpoint.id == uuid.UUID(endpoint_id))
        )
        assert partner_id is not None
        return await publish(
            session, partner_id=partner_id, event_type=event_type, data=data or {"n": 1}
        )


def deliveries(client: httpx.Client, endpoint_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


class TestEndpoints:
    async def test_secret_is_shown_once_and_stored_encrypted(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret_box: SecretBox,
    ) -> None:
        created = create_endpoint(partner, receiver, ["document.booked", "sync_run.finished"])
        assert created["secret"].startswith("whsec_")
        assert created["events"] == ["document.booked", "sync_run.finished"]
        one = partner.get(f"/v1/webhook-endpoints/{created['id']}").json()
        listed = partner.get("/v1/webhook-endpoints").json()
        assert "secret" not in one and created["secret"] not in json.dumps(listed)
        assert [e["id"] for e in listed] == [created["id"]]
        async with sessionmaker() as session:
            row = await session.get(WebhookEndpoint, uuid.UUID(created["id"]))
            assert row is not None
            assert created["secret"].encode() not in row.secret
            assert secret_box.decrypt(row.secret).decode() == created["secret"]

    def test_patch_and_delete(self, partner: httpx.Client, receiver: Receiver) -> None:
        endpoint = create_endpoint(partner, receiver)
        path = f"/v1/webhook-endpoints/{endpoint['id']}"
        patched = partner.patch(path, json={"events": ["document.sent"], "enabled": False})
        assert patched.status_code == 200, patched.text
        assert patched.json()["events"] == ["document.sent"]
        assert patched.json()["status"] == "disabled"
        assert partner.patch(path, json={"enabled": True}).json()["status"] == "enabled"
        assert partner.patch(path, json={"events": ["nope"]}).status_code == 422
        assert partner.delete(path).status_code == 204
        assert partner.get(path).status_code == 404

    async def test_foreign_endpoint_is_404_on_every_route(
        self,
        wh_api_url: str,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        endpoint = create_endpoint(partner, receiver)
        await publish_to(sessionmaker, endpoint["id"])
        delivery = deliveries(partner, endpoint["id"])[0]["id"]
        base = f"/v1/webhook-endpoints/{endpoint['id']}"
        routes = [
            ("GET", base, None),
            ("PATCH", base, {"description": "mine now"}),
            ("DELETE", base, None),
            ("POST", f"{base}/rotate-secret", None),
            ("GET", f"{base}/deliveries", None),
            ("GET", f"{base}/deliveries/{delivery}", None),
            ("POST", f"{base}/deliveries/{delivery}/replay", None),
            ("POST", f"{base}/test", None),
        ]
        with new_partner(wh_api_url, "Someone Else") as intruder:
            for method, path, body in routes:
                response = intruder.request(method, path, json=body)
                assert response.status_code == 404, (method, path, response.text)
            assert intruder.get("/v1/webhook-endpoints").json() == []
        assert partner.get(base).json()["description"] == "books"


class TestUrlPolicy:
    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://127.0.0.1:9/hook", "loopback"),
            ("http://localhost:9/hook", "loopback"),
            ("https://10.1.2.3/hook", "private"),
            ("http://169.254.169.254/latest", "link-local"),
            ("http://[::1]/hook", "loopback"),
            ("http://224.0.0.1/hook", "multicast"),
            ("ftp://example.com/hook", "https://"),
        ],
    )
    def test_refused_targets_name_the_reason(
        self, strict_api_url: str, url: str, reason: str
    ) -> None:
        with new_partner(strict_api_url, "Strict") as client:
            response = client.post("/v1/webhook-endpoints", json={"url": url, "events": ["*"]})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "webhook_url_refused"
        assert reason in response.json()["detail"]

    def test_public_target_is_accepted_and_patch_is_checked_too(self, strict_api_url: str) -> None:
        with new_partner(strict_api_url, "Strict") as client:
            created = client.post(
                "/v1/webhook-endpoints", json={"url": "https://93.184.215.14/hook", "events": ["*"]}
            )
            assert created.status_code == 201, created.text
            path = f"/v1/webhook-endpoints/{created.json()['id']}"
            refused = client.patch(path, json={"url": "http://127.0.0.1/hook"})
            assert refused.status_code == 422
            assert client.get(path).json()["url"] == "https://93.184.215.14/hook"
            client.delete(path)

    def test_loopback_is_accepted_when_private_urls_are_allowed(
        self, partner: httpx.Client
    ) -> None:
        response = partner.post(
            "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]}
        )
        assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        "url",
        ["http://169.254.169.254/latest/meta-data", "http://10.0.0.1/hook", "http://[fd00::1]/"],
    )
    def test_other_private_targets_stay_refused_where_loopback_is_allowed(
        self, partner: httpx.Client, url: str
    ) -> None:
        response = partner.post("/v1/webhook-endpoints", json={"url": url, "events": ["*"]})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "webhook_url_refused"


class TestDelivery:
    async def test_signed_delivery_retried_until_2xx_and_logged(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        dispatcher: WebhookDispatcher,
        clock: ShiftedClock,
    ) -> None:
        endpoint = create_endpoint(partner, receiver, ["document.booked"])
        receiver.answers = [500, 500, 500]
        assert await publish_to(sessionmaker, endpoint["id"], "sync_run.finished") == 0
        data = {"document_id": str(uuid.uuid4()), "booking_number": "70-0042"}
        assert await publish_to(sessionmaker, endpoint["id"], "document.booked", data) == 1

        await dispatcher.deliver_due()
        assert receiver.statuses == [500]
        await dispatcher.deliver_due()  # the retry is not due yet
        assert receiver.statuses == [500]
        for _ in range(3):
            clock.advance()
            await dispatcher.deliver_due()
        assert receiver.statuses == [500, 500, 500, 200]
        clock.advance(3600)
        await dispatcher.deliver_due()
        assert len(receiver.received) == 4  # delivered: nothing more is sent

        assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
        event = receiver.received[-1].event
        assert event["type"] == "document.booked" and event["data"] == data
        assert datetime.fromisoformat(event["timestamp"]).tzinfo is not None
        [logged] = deliveries(partner, endpoint["id"])
        assert logged["status"] == "delivered" and logged["attempts"] == 4
        assert logged["last_status_code"] == 200
        assert logged["event_id"] == receiver.received[0].headers["webhook-id"]
        detail = partner.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{logged['id']}"
        ).json()
        assert [a["status_code"] for a in detail["attempt_log"]] == [500, 500, 500, 200]
        assert len(detail["attempt_log"][0]["response_body"]) <= SETTINGS.max_response_body_chars

    async def test_the_default_schedule_tries_eight_times_over_more_than_a_day(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret_box: SecretBox,
        clock: ShiftedClock,
    ) -> None:
        """Out of the box (every other test here shortens it): after each failure the
        next attempt waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, each ± the 10 %
        jitter; the eighth failure ends the delivery, about 31.6 h after the first."""
        defaults = WebhookSettings(allow_loopback_urls=True)  # the receiver is on 127.0.0.1
        dispatcher = WebhookDispatcher(sessionmaker, secret_box, defaults, clock=clock)
        endpoint = create_endpoint(partner, receiver)
        receiver.answers = [500] * 20
        await publish_to(sessionmaker, endpoint["id"])

        async def delivery() -> WebhookDelivery:
            async with sessionmaker() as session:
                return (
                    await session.scalars(
                        select(WebhookDelivery).where(
                            WebhookDelivery.endpoint_id == uuid.UUID(endpoint["id"])
                        )
                    )
                ).one()

        waits: list[float] = []
        first = clock()
        while True:
            await dispatcher.deliver_due()
            row = await delivery()
            assert row.attempts == len(waits) + 1
            if row.next_attempt_at is None:
                break
            assert row.last_attempt_at is not None
            waits.append((row.next_attempt_at - row.last_attempt_at).total_seconds())
            clock.advance((row.next_attempt_at - clock()).total_seconds() + 0.5)  # due now

        schedule = [5, 300, 1800, 7200, 18000, 36000, 50400]
        assert len(waits) == len(schedule), waits
        for wait, planned in zip(waits, schedule, strict=True):
            assert planned * 0.9 <= wait <= planned * 1.1, (waits, schedule)
        assert waits != [float(p) for p in schedule]  # jittered, not all in step
        assert row.status == "failed" and len(receiver.received) == 8
        assert clock() - first > timedelta(hours=24)

    async def test_an_endpoint_whose_secret_cannot_be_read_holds_up_no_other(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        dispatcher: WebhookDispatcher,
    ) -> None:
        unreadable = create_endpoint(partner, receiver, ["document.booked"])
        readable = create_endpoint(partner, receiver, ["document.booked"])
        async with sessionmaker.begin() as session:  # sealed with keys since rotated away
            row = await session.get(WebhookEndpoint, uuid.UUID(unreadable["id"]))
            assert row is not None
            row.secret = b"sealed-with-a-retired-key"
        try:
            assert await publish_to(sessionmaker, readable["id"]) == 2  # one to each
            await dispatcher.deliver_due()
            assert receiver.statuses == [200]
            assert [d["status"] for d in deliveries(partner, readable["id"])] == ["delivered"]
            assert [d["status"] for d in deliveries(partner, unreadable["id"])] == ["pending"]
        finally:  # later tests' dispatchers leave it alone
            async with sessionmaker.begin() as session:
                row = await session.get(WebhookEndpoint, uuid.UUID(unreadable["id"]))
                assert row is not None
                row.status = "disabled"

    async def test_run_delivers_until_stopped(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        dispatcher: WebhookDispatcher,
    ) -> None:
        endpoint = create_endpoint(partner, receiver)
        loop = asyncio.create_task(dispatcher.run())
        await publish_to(sessionmaker, endpoint["id"], "integration.status_changed")
        assert await asyncio.to_thread(receiver.arrived.wait, 10)
        dispatcher.stop()
        await asyncio.wait_for(loop, 5)
        assert receiver.received[0].event["type"] == "integration.status_changed"

    async def test_delivery_log_is_newest_first_and_paginated(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        endpoint = create_endpoint(partner, receiver)
        for n in range(3):
            await publish_to(sessionmaker, endpoint["id"], data={"n": n})
        path = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
        first = partner.get(path, params={"limit": 2}).json()
        rest = partner.get(path, params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert rest["next_cursor"] is None
        ids = [d["id"] for d in first["data"] + rest["data"]]
        assert len(set(ids)) == 3
        created = [d["created_at"] for d in first["data"] + rest["data"]]
        assert created == sorted(created, reverse=True)

    async def test_replay_and_test_event(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        dispatcher: WebhookDispatcher,
    ) -> None:
        endpoint = create_endpoint(partner, receiver, ["document.sync_failed"])
        await publish_to(sessionmaker, endpoint["id"], "document.sync_failed")
        await dispatcher.deliver_due()
        [delivery] = deliveries(partner, endpoint["id"])
        assert delivery["status"] == "delivered"

        replay = partner.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/replay"
        )
        assert replay.status_code == 202 and replay.json()["status"] == "pending"
        await dispatcher.deliver_due()
        assert receiver.statuses == [200, 200]
        first, again = receiver.received
        assert first.headers["webhook-id"] == again.headers["webhook-id"]
        [replayed] = deliveries(partner, endpoint["id"])
        assert replayed["status"] == "delivered" and replayed["attempts"] == 2

        test = partner.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
        assert test.status_code == 202, test.text
        await dispatcher.deliver_due()
        assert receiver.received[-1].event["type"] == "webhook.test"
        assert receiver.statuses == [200, 200, 200]

    async def test_a_test_event_is_due_and_stamped_by_the_shared_clock(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        """Queued while the shared clock is three days ahead: due then, not by the host's
        clock, as the dispatcher (on the same clock) compares it."""
        endpoint = create_endpoint(partner, receiver)
        ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        with held_at(ahead):
            test = partner.post(f"/v1/webhook-endpoints/{endpoint['id']}/test")
        assert test.status_code == 202, test.text
        async with sessionmaker() as session:
            delivery = await session.get(WebhookDelivery, uuid.UUID(test.json()["id"]))
        assert delivery is not None
        assert delivery.next_attempt_at == ahead
        assert datetime.fromisoformat(delivery.payload["timestamp"]) == ahead

    async def test_a_delivery_is_signed_at_the_real_time_when_the_clock_is_ahead(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret_box: SecretBox,
    ) -> None:
        """A month unattended runs on a clock days ahead: the receiver, verifying with the
        standardwebhooks library against its own clock, still accepts the signature."""
        endpoint = create_endpoint(partner, receiver)
        ahead = ShiftedClock()
        ahead.advance(3 * 24 * 3600)
        dispatcher = WebhookDispatcher(sessionmaker, secret_box, SETTINGS, clock=ahead)
        await publish_to(sessionmaker, endpoint["id"])
        await dispatcher.deliver_due()
        assert receiver.statuses == [200]
        sent = int(receiver.received[0].headers["webhook-timestamp"])
        assert abs(sent - datetime.now(UTC).timestamp()) < 60

    async def test_rotation_signs_with_both_secrets_during_grace_only(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        dispatcher: WebhookDispatcher,
        clock: ShiftedClock,
    ) -> None:
        endpoint = create_endpoint(partner, receiver)
        old_secret = receiver.secret  # the receiver keeps verifying with the old one
        rotated = partner.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret.startswith("whsec_") and new_secret != old_secret
        assert rotated.json()["previous_secret_expires_at"] is not None
        assert "secret" not in partner.get(f"/v1/webhook-endpoints/{endpoint['id']}").json()

        await publish_to(sessionmaker, endpoint["id"])
        await dispatcher.deliver_due()
        assert receiver.statuses == [200]
        in_grace = receiver.received[0]
        assert len(in_grace.headers["webhook-signature"].split(" ")) == 2
        Webhook(new_secret).verify(in_grace.body, in_grace.headers)

        clock.advance(2 * 60)  # past the one-minute grace
        await publish_to(sessionmaker, endpoint["id"])
        await dispatcher.deliver_due()
        assert receiver.statuses == [200, 401]
        after = receiver.received[1]
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        Webhook(new_secret).verify(after.body, after.headers)

        receiver.secret = new_secret
        clock.advance()
        await dispatcher.deliver_due()
        assert receiver.statuses == [200, 401, 200]

    async def test_failing_endpoint_is_disabled_with_a_notification(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        dispatcher: WebhookDispatcher,
        clock: ShiftedClock,
    ) -> None:
        endpoint = create_endpoint(partner, receiver)
        receiver.answers = [503] * 100
        await publish_to(sessionmaker, endpoint["id"], data={"n": 1})
        await publish_to(sessionmaker, endpoint["id"], data={"n": 2})
        path = f"/v1/webhook-endpoints/{endpoint['id']}"
        for _ in range(3):
            await dispatcher.deliver_due()
            clock.advance()
        assert receiver.statuses == [503] * 6
        assert partner.get(path).json()["status"] == "enabled"  # no delivery has failed yet
        await publish_to(sessionmaker, endpoint["id"], data={"n": 3})
        await dispatcher.deliver_due()  # the last attempt of n=1 and n=2, the first of n=3

        state = partner.get(path).json()
        assert state["status"] == "disabled", state
        assert "2 deliveries in a row failed" in state["disabled_reason"]
        log = {d["status"]: d["attempts"] for d in deliveries(partner, endpoint["id"])}
        assert sorted(d["status"] for d in deliveries(partner, endpoint["id"])) == [
            "canceled",
            "failed",
            "failed",
        ]
        assert log == {"failed": 4, "canceled": 1}
        async with sessionmaker() as session:
            notes = (
                await session.scalars(
                    select(Notification).where(
                        Notification.kind == "webhook_endpoint_disabled",
                        Notification.body.contains(endpoint["id"]),
                    )
                )
            ).all()
        assert len(notes) == 1
        sent = len(receiver.received)
        assert await publish_to(sessionmaker, endpoint["id"]) == 0
        clock.advance(3600)
        await dispatcher.deliver_due()
        assert len(receiver.received) == sent

    async def test_endpoint_failing_for_hours_is_disabled(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret_box: SecretBox,
        clock: ShiftedClock,
    ) -> None:
        hasty = SETTINGS.model_copy(update={"disable_after_failing_hours": 30 / 3600})
        dispatcher = WebhookDispatcher(sessionmaker, secret_box, hasty, clock=clock)
        endpoint = create_endpoint(partner, receiver)
        receiver.answers = [500] * 10
        await publish_to(sessionmaker, endpoint["id"])
        await dispatcher.deliver_due()
        clock.advance()
        await dispatcher.deliver_due()
        path = f"/v1/webhook-endpoints/{endpoint['id']}"
        assert partner.get(path).json()["status"] == "enabled"  # failing for 10 s only
        clock.advance(30)
        await dispatcher.deliver_due()
        state = partner.get(path).json()
        assert state["status"] == "disabled", state
        assert "hours" in state["disabled_reason"]
        assert receiver.statuses == [500, 500, 500]


class TestIntegrationEvents:
    async def test_a_deactivation_is_announced_to_subscribers(
        self,
        partner: httpx.Client,
        receiver: Receiver,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        from tests.integration.api.conftest import add_integration

        endpoint = create_endpoint(partner, receiver, events=["integration.status_changed"])
        client_id = partner.post("/v1/clients", json={"name": "Announced BV"}).json()["id"]
        integration = await add_integration(sessionmaker, client_id)
        answer = partner.post(
            f"/v1/integrations/{integration}/deactivate", json={"from_date": "2026-01-01"}
        )
        assert answer.status_code == 200, answer.text
        (delivery,) = deliveries(partner, endpoint["id"])
        assert delivery["event_type"] == "integration.status_changed"


@pytest.fixture
def slow_receiver() -> Iterator[SlowReceiver]:
    state = SlowReceiver(hold=SLOW.concurrency)
    app = Starlette(routes=[Route("/hook", state.handle, methods=["POST"])])
    with serve_in_thread(app) as url:
        state.url = f"{url}/hook"
        yield state
        state.release.set()


# A batch that takes longer than a timeout plus 30 s (the lease it used to get): four
# rounds of two 20-second sends. 60 s into it, another dispatcher looks for due work.
SLOW = SETTINGS.model_copy(update={"batch_size": 8, "concurrency": 2, "timeout_seconds": 20.0})
LATER = 60.0


class TestClaims:
    def test_the_claim_outlives_the_longest_batch(self) -> None:
        defaults = WebhookSettings()  # 50 deliveries, 10 at a time, 10 s each: 50 s
        assert defaults.claim_lease_seconds > 50.0
        assert SLOW.claim_lease_seconds > 4 * 20.0

    async def _endpoint_with_deliveries(
        self,
        partner: httpx.Client,
        sessionmaker: async_sessionmaker[AsyncSession],
        receiver: SlowReceiver,
        count: int,
    ) -> str:
        response = partner.post(
            "/v1/webhook-endpoints", json={"url": receiver.url, "events": ["*"]}
        )
        assert response.status_code == 201, response.text
        endpoint_id: str = response.json()["id"]
        for n in range(count):
            await publish_to(sessionmaker, endpoint_id, data={"n": n})
        return endpoint_id

    async def _failures(
        self, sessionmaker: async_sessionmaker[AsyncSession], endpoint_id: str
    ) -> int:
        async with sessionmaker() as session:
            endpoint = await session.get(WebhookEndpoint, uuid.UUID(endpoint_id))
            assert endpoint is not None
            return endpoint.consecutive_failures

    async def test_a_second_dispatcher_leaves_a_slow_batch_alone(
        self,
        partner: httpx.Client,
        slow_receiver: SlowReceiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret_box: SecretBox,
    ) -> None:
        endpoint_id = await self._endpoint_with_deliveries(
            partner, sessionmaker, slow_receiver, SLOW.batch_size
        )
        first = WebhookDispatcher(sessionmaker, secret_box, SLOW)
        later = ShiftedClock()
        later.advance(LATER)
        second = WebhookDispatcher(sessionmaker, secret_box, SLOW, clock=later)

        sending = asyncio.create_task(first.deliver_due())
        assert await asyncio.to_thread(slow_receiver.holding.wait, 20.0)
        assert await second.deliver_due() == 0  # the batch is claimed: nothing for it
        slow_receiver.release.set()
        assert await sending == SLOW.batch_size

        ids = slow_receiver.webhook_ids
        assert len(ids) == SLOW.batch_size and len(set(ids)) == SLOW.batch_size
        assert [d["attempts"] for d in deliveries(partner, endpoint_id)] == [1] * SLOW.batch_size
        assert await self._failures(sessionmaker, endpoint_id) == SLOW.batch_size

    async def test_only_the_claim_holder_records_the_attempt(
        self,
        partner: httpx.Client,
        slow_receiver: SlowReceiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret_box: SecretBox,
    ) -> None:
        """The first dispatcher stalls past its lease (the lease is made to lapse on the
        database's clock); the second takes the delivery and sends it. The first's late
        answer is dropped: the attempt and the failure count once."""
        one = SLOW.model_copy(update={"batch_size": 1, "concurrency": 1})
        slow_receiver.hold = 1
        endpoint_id = await self._endpoint_with_deliveries(partner, sessionmaker, slow_receiver, 1)
        first = WebhookDispatcher(sessionmaker, secret_box, one)
        later = ShiftedClock()
        later.advance(LATER)
        second = WebhookDispatcher(sessionmaker, secret_box, one, clock=later)

        sending = asyncio.create_task(first.deliver_due())
        assert await asyncio.to_thread(slow_receiver.holding.wait, 20.0)
        async with sessionmaker.begin() as session:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.endpoint_id == uuid.UUID(endpoint_id))
                .values(claimed_until=func.clock_timestamp() - timedelta(seconds=1))
            )
        assert await second.deliver_due() == 1
        slow_receiver.release.set()
        await sending

        assert len(slow_receiver.webhook_ids) == 2  # sent twice: the first had stalled
        (delivery,) = deliveries(partner, endpoint_id)
        assert delivery["attempts"] == 1
        assert await self._failures(sessionmaker, endpoint_id) == 1

    async def test_a_send_that_would_outlive_the_claim_is_not_started(
        self,
        partner: httpx.Client,
        slow_receiver: SlowReceiver,
        sessionmaker: async_sessionmaker[AsyncSession],
        secret_box: SecretBox,
    ) -> None:
        """The process stalls during the first send for as long as the lease: the second
        delivery is not sent on a lapsed claim; it is handed back at once, unattempted."""
        two = SLOW.model_copy(update={"batch_size": 2, "concurrency": 1})
        slow_receiver.hold = 1
        endpoint_id = await self._endpoint_with_deliveries(partner, sessionmaker, slow_receiver, 2)
        stalled = 0.0
        dispatcher = WebhookDispatcher(
            sessionmaker, secret_box, two, elapsed=lambda: time.monotonic() + stalled
        )

        sending = asyncio.create_task(dispatcher.deliver_due())
        assert await asyncio.to_thread(slow_receiver.holding.wait, 20.0)
        stalled = two.claim_lease_seconds
        slow_receiver.release.set()
        assert await sending == 1

        assert len(slow_receiver.webhook_ids) == 1
        attempts = sorted(d["attempts"] for d in deliveries(partner, endpoint_id))
        assert attempts == [0, 1]
        async with sessionmaker() as session:
            claims = (
                await session.scalars(
                    select(WebhookDelivery.claim_token).where(
                        WebhookDelivery.endpoint_id == uuid.UUID(endpoint_id)
                    )
                )
            ).all()
        assert claims == [None, None]  # both free for the next dispatcher
