"""The API stays in service while connectors or the broker are down: its readiness
depends on its database only, and the state of what it talks to is reported beside it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from invoicesync_api.app import create_app
from invoicesync_api.settings import ApiSettings
from tests.integration.api.conftest import ADMIN_TOKEN, add_integration, new_partner
from tests.support.servers import serve_in_thread


async def _ready(_: object) -> JSONResponse:
    return JSONResponse({"ready": True})


@pytest.fixture(scope="module")
def connector_url() -> Iterator[str]:
    """Something that answers a connector's /readyz, as a running connector does."""
    with serve_in_thread(Starlette(routes=[Route("/readyz", _ready)])) as url:
        yield url


@pytest.fixture(scope="module")
def api_with_exact_up(database_url: str, encryption_key: str, connector_url: str) -> Iterator[str]:
    settings = ApiSettings(
        database_url=SecretStr(database_url),
        encryption_keys=SecretStr(encryption_key),
        admin_token=SecretStr(ADMIN_TOKEN),
        run_workers=False,
        connector_exact_url=connector_url,
        connector_lexware_url="http://127.0.0.1:9",
        connector_yuki_url="http://127.0.0.1:9",
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def test_ready_while_every_connector_is_down(api_url: str) -> None:
    response = httpx.get(f"{api_url}/readyz")

    assert response.status_code == 200, response.text
    assert response.json() == {"ready": True, "checks": {"database": True}}
    dependencies = httpx.get(f"{api_url}/healthz/dependencies").json()
    assert dependencies == {
        "broker": "unknown",  # this replica runs no workers
        "connector_exact": "down",
        "connector_lexware": "down",
        "connector_yuki": "down",
    }


async def test_an_integration_shows_its_connector_and_the_broker(
    api_with_exact_up: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    with new_partner(api_with_exact_up) as partner:
        client = partner.post("/v1/clients", json={"name": "Bakkerij", "country": "NL"}).json()
        exact = await add_integration(sessionmaker, client["id"], system="exact")
        lexware = await add_integration(sessionmaker, client["id"], system="lexware")

        exact_health = partner.get(f"/v1/integrations/{exact}").json()["health"]
        lexware_health = partner.get(f"/v1/integrations/{lexware}").json()["health"]

    assert exact_health == {"connector": "up", "broker": "unknown"}
    assert lexware_health == {"connector": "down", "broker": "unknown"}
