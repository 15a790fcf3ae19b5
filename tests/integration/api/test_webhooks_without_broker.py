"""A webhook test event and a replay go out while the broker is away: deliveries need
only PostgreSQL, so they never wait for the result consumer to join its group (which
takes up to half a minute after a restart, and forever while the broker is down)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from invoicesync_api.app import create_app
from invoicesync_api.settings import ApiSettings
from invoicesync_api.webhooks.settings import WebhookSettings
from tests.integration.api.conftest import ADMIN_TOKEN, new_partner
from tests.support.servers import serve_in_thread
from tests.support.webhooks import Receiver

BOUND = 30.0  # seconds: a failure shows as a timeout, not a hang


@pytest.fixture(scope="module")
def api_without_broker(database_url: str, encryption_key: str) -> Iterator[str]:
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=True,
        kafka_bootstrap="127.0.0.1:9",  # nothing listens there
        connector_exact_url="http://127.0.0.1:9",
        connector_lexware_url="http://127.0.0.1:9",
        connector_yuki_url="http://127.0.0.1:9",
        webhooks=WebhookSettings(allow_loopback_urls=True, poll_interval_seconds=0.2),
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def test_test_event_and_replay_are_sent_while_the_broker_is_down(
    api_without_broker: str, receiver: Receiver
) -> None:
    with new_partner(api_without_broker, "Hooks Without Broker") as partner:
        endpoint = partner.post(
            "/v1/webhook-endpoints", json={"url": receiver.url, "events": ["*"]}
        ).json()
        receiver.secret = endpoint["secret"]

        delivery = partner.post(f"/v1/webhook-endpoints/{endpoint['id']}/test").json()
        assert receiver.arrived.wait(BOUND), "the test event was not sent"
        receiver.arrived.clear()
        _until_recorded(partner, endpoint["id"], delivery["id"])
        replay = partner.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/replay"
        )
        assert replay.status_code < 300, replay.text
        assert receiver.arrived.wait(BOUND), "the replay was not sent"

    assert [r.event["type"] for r in receiver.received] == ["webhook.test", "webhook.test"]
    assert receiver.statuses == [200, 200]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # the same event


def _until_recorded(partner: httpx.Client, endpoint_id: str, delivery_id: str) -> None:
    """A replay while the attempt is still in flight is refused (409): wait for its end."""
    path = f"/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}"
    deadline = time.monotonic() + BOUND
    while partner.get(path).json()["status"] != "delivered":
        assert time.monotonic() < deadline, "the attempt was never recorded"
        time.sleep(0.1)
