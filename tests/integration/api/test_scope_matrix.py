"""Scopes over every route: each operation of the OpenAPI document that takes a partner's
key, called with a key of each single scope, is allowed for its scope and answers 403
``insufficient_scope`` naming ``required_scope`` for the others. The expected scope is
written here, apart from the code (GET: read; the admin list; else write), so a new route
is covered at once and a route that forgets its scope fails."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.api.test_isolation_matrix import body_for, fill, owners_ids

pytestmark = pytest.mark.reliability

SCOPES = ("read", "write", "admin")
# Integrations' connect and lifecycle, the partner's settings, webhook endpoints, API keys
# (GETs of webhook endpoints are reads; every route of /v1/api-keys needs admin).
ADMIN_OPERATIONS = {
    ("POST", "/v1/clients/{client_id}/integrations"),
    ("PATCH", "/v1/integrations/{integration_id}"),
    ("POST", "/v1/integrations/{integration_id}/verify"),
    ("POST", "/v1/integrations/{integration_id}/reconnect"),
    ("POST", "/v1/integrations/{integration_id}/deactivate"),
    ("POST", "/v1/integrations/{integration_id}/relink"),
    ("POST", "/v1/integrations/{integration_id}/repair"),
    ("POST", "/v1/integrations/{integration_id}/resume"),
    ("PATCH", "/v1/partner"),  # the partner's own settings (its default language)
}
ADMIN_PREFIXES = ("/v1/api-keys", "/v1/webhook-endpoints")
# Reconciliations take the defaults, on purpose: starting one and applying its safe
# actions are write (each action is one a write key may take itself: send a document
# again, read back payments); the report is read. Named here so a change is a decision.
RECONCILIATION_OPERATIONS = {
    ("POST", "/v1/integrations/{integration_id}/reconciliations"): "write",
    ("GET", "/v1/integrations/{integration_id}/reconciliations/{reconciliation_id}"): "read",
    (
        "POST",
        "/v1/integrations/{integration_id}/reconciliations/{reconciliation_id}/apply",
    ): "write",
}


def expected_scope(method: str, path: str) -> str:
    if (method, path) in RECONCILIATION_OPERATIONS:
        return RECONCILIATION_OPERATIONS[(method, path)]
    if path.startswith("/v1/api-keys") or (method, path) in ADMIN_OPERATIONS:
        return "admin"
    if method == "GET":
        return "read"
    return "admin" if path.startswith(ADMIN_PREFIXES) else "write"


def keyed_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every operation that takes a partner's key:
    it declares the bearer scheme and is not the platform admin's."""
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        if not path.startswith("/admin/")
        for method, operation in sorted(item.items())
        if operation.get("security")
    ]


def scoped_keys(partner: httpx.Client) -> dict[str, str]:
    keys = {}
    for scope in SCOPES:
        created = partner.post("/v1/api-keys", json={"name": f"only {scope}", "scopes": [scope]})
        assert created.status_code == 201, created.text
        keys[scope] = created.json()["api_key"]
    return keys


def _call(api_url: str, key: str, method: str, path: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.request(method, f"{api_url}{path}", json=body, headers=headers, timeout=30)


def _denial(response: httpx.Response) -> dict[str, Any] | None:
    """What a 403 for scope said (code and scope), or None when the call was let through."""
    if response.status_code != 403:
        return None
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    return {"code": problem["code"], "required_scope": problem.get("required_scope")}


async def test_every_route_by_every_scope_is_allowed_or_403_with_the_scope(
    api_url: str,
    partner: httpx.Client,
    client_id: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await owners_ids(partner, client_id, sessionmaker)
    keys = scoped_keys(partner)
    document = partner.get("/openapi.json").json()
    operations = keyed_operations(document)
    assert len(operations) >= 45, operations  # the walk found the routes
    # Previews store nothing, but take the create's body and scope (write).
    previews = {("POST", "/v1/invoices/preview"), ("POST", "/v1/credit-notes/preview")}
    assert previews <= {(method, template) for method, template, _ in operations}
    wrong: list[tuple[Any, ...]] = []
    for method, template, operation in operations:
        needed = expected_scope(method, template)
        if operation.get("x-required-scope") != needed:
            wrong.append((method, template, "documented", operation.get("x-required-scope")))
        if operation.get("responses", {}).get("403") is None:
            wrong.append((method, template, "no documented 403", None))
        for scope, key in keys.items():
            body = body_for(method, template)
            response = _call(api_url, key, method, fill(template, ids), body)
            denial = _denial(response)
            expected = (
                None
                if scope == needed
                else {"code": "insufficient_scope", "required_scope": needed}
            )
            if denial != expected:
                wrong.append((method, template, scope, response.status_code, response.text[:100]))
            if denial is not None and "{" in template:
                # The scope is about the key: the same 403 for an id that does not exist.
                unknown = re.sub(r"{\w+}", str(uuid.uuid4()), template)
                again = _call(api_url, key, method, unknown, body)
                if _denial(again) != denial:
                    wrong.append((method, template, scope, "unknown id", again.status_code))
    assert wrong == [], "\n".join(map(str, wrong))


def test_a_key_with_several_scopes_has_each(api_url: str, partner: httpx.Client) -> None:
    created = partner.post("/v1/api-keys", json={"name": "rw", "scopes": ["read", "write"]})
    key = created.json()["api_key"]
    assert _call(api_url, key, "GET", "/v1/clients", None).status_code == 200
    made = _call(api_url, key, "POST", "/v1/clients", {"name": "Bakkerij"})
    assert made.status_code == 201, made.text
    refused = _call(api_url, key, "GET", "/v1/api-keys", None)
    assert _denial(refused) == {"code": "insufficient_scope", "required_scope": "admin"}
