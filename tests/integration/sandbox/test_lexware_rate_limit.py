"""Lexware's 2 requests per second per client: a burst beyond it gets 429 and changes nothing."""

import asyncio
from typing import Any

import httpx
import pytest

from invoicesync_sandbox.lexware.masterdata import posting_categories
from invoicesync_sandbox.settings import SandboxSettings
from tests.support.servers import sandbox_config


@pytest.fixture(scope="module")
def sandbox_settings() -> SandboxSettings:
    return sandbox_config(lexware_requests_per_second=2.0)


def _new_org(sandbox_url: str) -> dict[str, Any]:
    response = httpx.post(f"{sandbox_url}/_sandbox/lexware/organizations", json={})
    assert response.status_code == 201
    return dict(response.json())


def _contact(i: int) -> dict[str, Any]:
    return {"version": 0, "roles": {"customer": {}}, "company": {"name": f"Burst {i} GmbH"}}


async def test_burst_past_two_per_second_gets_429_without_side_effect(sandbox_url: str) -> None:
    org, other = _new_org(sandbox_url), _new_org(sandbox_url)
    async with httpx.AsyncClient(base_url=sandbox_url) as c:
        served_before = (await c.get("/_sandbox/lexware/rate-limit")).json()["rate_limited"]
        mine = {"Authorization": f"Bearer {org['api_key']}"}
        responses = await asyncio.gather(
            *(c.post("/lexware/v1/contacts", json=_contact(i), headers=mine) for i in range(6))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 201, 429, 429, 429, 429]
        refused = next(r for r in responses if r.status_code == 429).json()
        assert refused["status"] == 429 and refused["error"] == "Too Many Requests"
        # Counted, for figures such as the soak's "429s 0".
        served = (await c.get("/_sandbox/lexware/rate-limit")).json()["rate_limited"]
        assert served - served_before == 4

        # The other organisation has a bucket of its own.
        theirs = {"Authorization": f"Bearer {other['api_key']}"}
        assert (await c.get("/lexware/v1/profile", headers=theirs)).status_code == 200

        await asyncio.sleep(1.0)  # let the bucket refill: respect the limit before reading
        listed = (await c.get("/lexware/v1/contacts", headers=mine)).json()
        assert listed["totalElements"] == 2
        state = await c.get(f"/_sandbox/lexware/organizations/{org['organization_id']}")
        assert len(state.json()["contacts"]) == 2


def _purchase(outgo: str, i: int) -> dict[str, Any]:
    return {
        "type": "purchaseinvoice",
        "voucherNumber": f"BURST-{i}",
        "voucherDate": "2024-03-01",
        "totalGrossAmount": 119.0,
        "totalTaxAmount": 19.0,
        "taxType": "net",
        "useCollectiveContact": True,
        "voucherItems": [
            {"amount": 100.0, "taxAmount": 19.0, "taxRatePercent": 19, "categoryId": outgo}
        ],
    }


async def test_voucher_burst_past_the_limit_leaves_no_voucher_behind(sandbox_url: str) -> None:
    org = _new_org(sandbox_url)
    state_url = f"/_sandbox/lexware/organizations/{org['organization_id']}"
    mine = {"Authorization": f"Bearer {org['api_key']}"}
    # Lexware's master data is fixed, so no rate-limited read is needed for an outgo id.
    outgo = next(row["id"] for row in posting_categories() if row["type"] == "outgo")
    async with httpx.AsyncClient(base_url=sandbox_url) as c:
        responses = await asyncio.gather(
            *(
                c.post("/lexware/v1/vouchers", json=_purchase(outgo, i), headers=mine)
                for i in range(6)
            )
        )
        assert sorted(r.status_code for r in responses) == [201, 201, 429, 429, 429, 429]
        made = {r.json()["id"] for r in responses if r.status_code == 201}
        state = (await c.get(state_url)).json()  # the control plane is not rate limited
        assert {v["id"] for v in state["vouchers"]} == made
