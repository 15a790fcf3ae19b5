"""A partner's own API keys: created with scopes and shown once, stored hashed, listed
without secrets, rotated with an overlap that ends on the shared clock, revoked (never the
last admin key), and a last-used time written at most once a minute."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from invoicesync_api.db.models import ApiKey
from invoicesync_shared import clock


class _Ahead:
    """The host's clock moved ahead: the API runs in this process, so it follows."""

    def __init__(self, by: timedelta) -> None:
        self.by = by

    def now(self) -> datetime:
        return datetime.now(UTC) + self.by


@pytest.fixture
def move_clock() -> Iterator[Any]:
    def move(by: timedelta) -> None:
        clock.use(_Ahead(by))

    yield move
    clock.use(clock.SystemClock())


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_key(partner: httpx.Client, name: str, scopes: list[str]) -> dict[str, Any]:
    response = partner.post("/v1/api-keys", json={"name": name, "scopes": scopes})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def stored(sessionmaker: async_sessionmaker[AsyncSession], key_id: str) -> ApiKey:
    async with sessionmaker() as session:
        row = await session.get(ApiKey, uuid.UUID(key_id))
        assert row is not None
        return row  # closing the session ends its transaction; the row keeps its values


def test_the_first_key_is_admin_and_a_new_key_has_only_its_scopes(
    api_url: str, partner: httpx.Client
) -> None:
    listed = partner.get("/v1/api-keys")
    assert listed.status_code == 200, listed.text
    [first] = listed.json()
    assert set(first["scopes"]) == {"read", "write", "admin"}

    reader = create_key(partner, "Dashboard", ["read"])
    assert reader["scopes"] == ["read"] and reader["api_key"].startswith("isk_")
    assert reader["prefix"] == reader["api_key"][:10]
    with httpx.Client(base_url=api_url, headers=bearer(reader["api_key"])) as dashboard:
        assert dashboard.get("/v1/clients").status_code == 200
        refused = dashboard.post("/v1/clients", json={"name": "Nope"})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert (problem["code"], problem["required_scope"]) == ("insufficient_scope", "write")
        # Keys are managed with the admin scope only, listing them too.
        assert dashboard.get("/v1/api-keys").json()["required_scope"] == "admin"


async def test_the_secret_is_shown_once_and_stored_hashed(
    partner: httpx.Client, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = create_key(partner, "Backend", ["read", "write"])
    listed = partner.get("/v1/api-keys").json()
    assert {k["id"] for k in listed} >= {created["id"]}
    assert all("api_key" not in k for k in listed)
    assert created["api_key"] not in str(listed)

    row = await stored(sessionmaker, created["id"])
    assert row.key_hash == hashlib.sha256(created["api_key"].encode()).hexdigest()
    columns = [str(getattr(row, c.key)) for c in ApiKey.__table__.columns]
    assert not any(created["api_key"] in value for value in columns)


async def test_a_rotated_key_works_until_the_overlap_ends_on_the_shared_clock(
    api_url: str, partner: httpx.Client, move_clock: Any
) -> None:
    old = create_key(partner, "Invoicing backend", ["write", "read"])
    rotated = partner.post(f"/v1/api-keys/{old['id']}/rotate", json={"overlap_seconds": 3600})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["api_key"] != old["api_key"] and new["id"] != old["id"]
    assert (new["name"], sorted(new["scopes"])) == ("Invoicing backend", ["read", "write"])
    ends = datetime.fromisoformat(new["previous"]["expires_at"])
    assert timedelta(minutes=59) < ends - datetime.now(UTC) <= timedelta(hours=1)

    for key in (old, new):  # the overlap: both work
        assert httpx.get(f"{api_url}/v1/clients", headers=bearer(key["api_key"])).status_code == 200
    again = partner.post(f"/v1/api-keys/{old['id']}/rotate")
    assert again.status_code == 409  # rotate the successor, not the one ending

    move_clock(timedelta(minutes=61))
    ended = httpx.get(f"{api_url}/v1/clients", headers=bearer(old["api_key"]))
    assert ended.status_code == 401
    assert httpx.get(f"{api_url}/v1/clients", headers=bearer(new["api_key"])).status_code == 200
    listed = {k["id"] for k in partner.get("/v1/api-keys").json()}
    assert new["id"] in listed and old["id"] not in listed


def test_a_rotation_without_a_body_overlaps_a_day(partner: httpx.Client) -> None:
    old = create_key(partner, "Nightly export", ["read"])
    rotated = partner.post(f"/v1/api-keys/{old['id']}/rotate")
    assert rotated.status_code == 201, rotated.text
    ends = datetime.fromisoformat(rotated.json()["previous"]["expires_at"])
    assert timedelta(hours=23) < ends - datetime.now(UTC) <= timedelta(days=1)


def test_a_revoked_key_stops_at_once_and_the_last_admin_key_stays(
    api_url: str, partner: httpx.Client
) -> None:
    reader = create_key(partner, "Dashboard", ["read"])
    assert partner.delete(f"/v1/api-keys/{reader['id']}").status_code == 204
    assert httpx.get(f"{api_url}/v1/clients", headers=bearer(reader["api_key"])).status_code == 401
    assert partner.delete(f"/v1/api-keys/{reader['id']}").status_code == 404  # gone
    assert partner.delete(f"/v1/api-keys/{uuid.uuid4()}").status_code == 404

    [first] = [k for k in partner.get("/v1/api-keys").json() if "admin" in k["scopes"]]
    refused = partner.delete(f"/v1/api-keys/{first['id']}")
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "last_admin_key"

    # With a second admin key, the first can go (here: the calling key revokes itself).
    second = create_key(partner, "Ops", ["admin"])
    assert partner.delete(f"/v1/api-keys/{first['id']}").status_code == 204
    assert partner.get("/v1/api-keys").status_code == 401
    with httpx.Client(base_url=api_url, headers=bearer(second["api_key"])) as ops:
        [left] = ops.get("/v1/api-keys").json()
        assert left["id"] == second["id"]
        assert ops.delete(f"/v1/api-keys/{second['id']}").status_code == 409


async def test_last_used_is_written_at_most_once_a_minute(
    api_url: str,
    partner: httpx.Client,
    sessionmaker: async_sessionmaker[AsyncSession],
    move_clock: Any,
) -> None:
    key = create_key(partner, "Poller", ["read"])
    assert (await stored(sessionmaker, key["id"])).last_used_at is None
    async with httpx.AsyncClient(base_url=api_url, headers=bearer(key["api_key"])) as poller:
        assert (await poller.get("/v1/clients")).status_code == 200
        first = (await stored(sessionmaker, key["id"])).last_used_at
        assert first is not None
        for _ in range(3):
            assert (await poller.get("/v1/clients")).status_code == 200
        assert (await stored(sessionmaker, key["id"])).last_used_at == first  # no new write

        move_clock(timedelta(seconds=61))
        assert (await poller.get("/v1/clients")).status_code == 200
        later = (await stored(sessionmaker, key["id"])).last_used_at
        assert later is not None and later - first > timedelta(minutes=1)
    listed = {k["id"]: k for k in partner.get("/v1/api-keys").json()}
    assert datetime.fromisoformat(listed[key["id"]]["last_used_at"]) == later


def test_bodies_are_checked(partner: httpx.Client) -> None:
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["owner"]},
        {"name": "x", "scopes": ["read", "read"]},
        {"name": "", "scopes": ["read"]},
    ):
        response = partner.post("/v1/api-keys", json=body)
        assert response.status_code == 422, (body, response.text)
    key = create_key(partner, "x", ["read"])
    too_long = partner.post(f"/v1/api-keys/{key['id']}/rotate", json={"overlap_seconds": -1})
    assert too_long.status_code == 422


def test_a_key_in_its_rotation_overlap_does_not_count_as_the_admin_key_left(
    api_url: str, partner: httpx.Client
) -> None:
    [first] = partner.get("/v1/api-keys").json()
    rotated = partner.post(f"/v1/api-keys/{first['id']}/rotate").json()
    # The old admin key still works for a day, but it ends: the successor is the last.
    refused = partner.delete(f"/v1/api-keys/{rotated['id']}")
    assert refused.status_code == 409, refused.text
    # The ending one may be revoked early (here by itself).
    assert partner.delete(f"/v1/api-keys/{first['id']}").status_code == 204
    with httpx.Client(base_url=api_url, headers=bearer(rotated["api_key"])) as successor:
        assert [k["id"] for k in successor.get("/v1/api-keys").json()] == [rotated["id"]]
