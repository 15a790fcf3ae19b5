"""Admin provisioning: a key is shown once, works until rotated or revoked, and only the
admin token may provision."""

from __future__ import annotations

import httpx

from tests.integration.api.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_rotate_and_revoke(api_url: str) -> None:
    created = httpx.post(
        f"{api_url}/admin/v1/partners", json={"name": "Rotating"}, headers=ADMIN
    ).json()
    first = created["api_key"]
    assert httpx.get(f"{api_url}/v1/clients", headers=bearer(first)).status_code == 200
    listed = httpx.get(f"{api_url}/admin/v1/partners", headers=ADMIN).json()
    assert all(p["api_key"] is None for p in listed)  # shown once, never again

    # Rotation with overlap: both work until the old one is revoked.
    second = httpx.post(
        f"{api_url}/admin/v1/partners/{created['id']}/api-keys",
        params={"revoke_existing": "false"},
        headers=ADMIN,
    ).json()["api_key"]
    assert second != first
    for key in (first, second):
        assert httpx.get(f"{api_url}/v1/clients", headers=bearer(key)).status_code == 200
    third = httpx.post(
        f"{api_url}/admin/v1/partners/{created['id']}/api-keys", headers=ADMIN
    ).json()["api_key"]
    assert httpx.get(f"{api_url}/v1/clients", headers=bearer(first)).status_code == 401
    assert httpx.get(f"{api_url}/v1/clients", headers=bearer(third)).status_code == 200

    assert (
        httpx.delete(
            f"{api_url}/admin/v1/partners/{created['id']}/api-keys", headers=ADMIN
        ).status_code
        == 204
    )
    refused = httpx.get(f"{api_url}/v1/clients", headers=bearer(third))
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"


def test_only_the_admin_token_provisions(api_url: str) -> None:
    partner_key = httpx.post(
        f"{api_url}/admin/v1/partners", json={"name": "P"}, headers=ADMIN
    ).json()["api_key"]
    for headers in ({}, bearer(partner_key), bearer("adm_wrong")):
        response = httpx.post(f"{api_url}/admin/v1/partners", json={"name": "X"}, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
