"""Issue 19: two Exact consents at once for the same Exact user (two windows, two
companies). Exact starts a token chain only from the newest code; the older callback is
refused with a message that says what happened and what to do, nothing is changed, and the
same authorisation link works when followed again."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import new_exact_division, new_exact_integration
from tests.support.processes import Stack

pytestmark = pytest.mark.e2e


def _start(partner: httpx.Client, stack: Stack, name: str) -> tuple[str, str]:
    """A client with an Exact integration waiting for consent: its id and the link."""
    client = partner.post("/v1/clients", json={"name": name, "country": "NL"})
    assert client.status_code == 201, client.text
    created = new_exact_integration(partner, client.json()["id"], new_exact_division(stack))
    return str(created["id"]), str(created["authorize_url"])


def _consent(authorize_url: str) -> str:
    """Allow access; the browser is not sent back yet: the callback URL with the code."""
    answer = httpx.get(authorize_url, timeout=60)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def test_an_overlapped_consent_is_refused_clearly_and_its_link_works_again(
    stack: Stack, partner: httpx.Client
) -> None:
    first_id, first_link = _start(partner, stack, "First Overlap BV")
    second_id, second_link = _start(partner, stack, "Second Overlap BV")
    first_callback = _consent(first_link)
    second_callback = _consent(second_link)  # a second window, same Exact user

    assert httpx.get(second_callback, timeout=60).status_code == 200
    refused = httpx.get(first_callback, timeout=60)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "connection_failed"
    assert "another one for the same Exact user" in problem["detail"]
    assert "authorisation link again" in problem["detail"]
    assert partner.get(f"/v1/integrations/{second_id}").json()["status"] == "active"
    first = partner.get(f"/v1/integrations/{first_id}").json()
    assert first["status"] == "pending_authorization", first

    # The same link, followed again alone, connects.
    assert httpx.get(first_link, follow_redirects=True, timeout=60).status_code == 200
    assert partner.get(f"/v1/integrations/{first_id}").json()["status"] == "active"
