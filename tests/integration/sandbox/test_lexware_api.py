"""Lexware emulator over real HTTP: OAuth, contacts, vouchers, payments, callbacks."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from invoicesync_sandbox.settings import SandboxSettings
from tests.support.servers import sandbox_config, serve_in_thread

VOUCHER_DATE = "2024-03-01T00:00:00.000+01:00"


def new_org(sandbox_url: str, **profile: Any) -> dict[str, Any]:
    """A fresh organisation via the control plane: ``organization_id`` and ``api_key``."""
    body = {"company_name": "Test GmbH", **profile}
    response = httpx.post(f"{sandbox_url}/_sandbox/lexware/organizations", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def api(sandbox_url: str, token: str) -> httpx.Client:
    """A client for ``/lexware`` as if it were https://api.lexware.io."""
    return httpx.Client(
        base_url=f"{sandbox_url}/lexware",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    )


def company(name: str, email: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": 0,
        "roles": {"customer": {}},
        "company": {"name": name, "vatRegistrationId": "DE123456789"},
        "addresses": {
            "billing": [
                {"street": "Hauptstr. 1", "zip": "10115", "city": "Berlin", "countryCode": "DE"}
            ]
        },
    }
    if email:
        body["emailAddresses"] = {"business": [email]}
    return body


def invoice(
    contact_id: str | None = None, net: float = 100.0, rate: int = 19, tax_type: str = "net"
) -> dict[str, Any]:
    address: dict[str, Any] = (
        {"contactId": contact_id} if contact_id else {"name": "Walk-in", "countryCode": "DE"}
    )
    amount = "grossAmount" if tax_type == "gross" else "netAmount"
    return {
        "voucherDate": VOUCHER_DATE,
        "address": address,
        "lineItems": [
            {
                "type": "custom",
                "name": "Service",
                "quantity": 2,
                "unitName": "Stück",
                "unitPrice": {"currency": "EUR", amount: net, "taxRatePercentage": rate},
            }
        ],
        "totalPrice": {"currency": "EUR"},
        "taxConditions": {"taxType": tax_type},
        "shippingConditions": {"shippingDate": VOUCHER_DATE, "shippingType": "delivery"},
    }


@pytest.fixture(scope="module")
def sandbox_settings() -> SandboxSettings:
    """As conftest's, but with a rate limit high enough not to get in the way."""
    return sandbox_config(lexware_requests_per_second=1000.0)


@pytest.fixture
def org(sandbox_url: str) -> dict[str, Any]:
    return new_org(sandbox_url)


@pytest.fixture
def client(sandbox_url: str, org: dict[str, Any]) -> Iterator[httpx.Client]:
    with api(sandbox_url, org["api_key"]) as c:
        yield c


def _control(sandbox_url: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{sandbox_url}/_sandbox/lexware/{path}", timeout=10, **kwargs)


# --- OAuth -------------------------------------------------------------------------------


def _authorize(sandbox_url: str, settings: SandboxSettings, **extra: str) -> dict[str, list[str]]:
    params = {
        "client_id": settings.lexware_client_id,
        "redirect_uri": settings.redirect_uri,
        "response_type": "code",
        "state": "s-42",
        **extra,
    }
    response = httpx.get(f"{sandbox_url}/lexware/api/oauth2/authorize", params=params)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(settings.redirect_uri)
    return parse_qs(urlparse(location).query)


def _token(sandbox_url: str, settings: SandboxSettings, **form: str) -> httpx.Response:
    return httpx.post(
        f"{sandbox_url}/lexware/api/oauth2/token",
        data=form,
        auth=(settings.lexware_client_id, settings.lexware_client_secret),
    )


def test_oauth_code_flow_connects_the_chosen_organisation(
    sandbox_url: str, sandbox_settings: SandboxSettings, org: dict[str, Any]
) -> None:
    query = _authorize(sandbox_url, sandbox_settings, organization_id=org["organization_id"])
    assert query["state"] == ["s-42"]
    code = query["code"][0]
    redirect = sandbox_settings.redirect_uri
    tokens = _token(
        sandbox_url,
        sandbox_settings,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect,
    )
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "bearer" and isinstance(body["expires_in"], int)
    with api(sandbox_url, body["access_token"]) as c:
        assert c.get("/v1/profile").json()["organizationId"] == org["organization_id"]
    reused = _token(
        sandbox_url,
        sandbox_settings,
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect,
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    refreshed = _token(
        sandbox_url,
        sandbox_settings,
        grant_type="refresh_token",
        refresh_token=body["refresh_token"],
    )
    assert refreshed.status_code == 200
    _control(sandbox_url, "tokens/expire", json={"organization_id": org["organization_id"]})
    with api(sandbox_url, refreshed.json()["access_token"]) as c:
        assert c.get("/v1/profile").status_code == 401


def test_oauth_rejects_bad_client_secret_and_revoked_refresh_token(
    sandbox_url: str, sandbox_settings: SandboxSettings, org: dict[str, Any]
) -> None:
    code = _authorize(sandbox_url, sandbox_settings, organization_id=org["organization_id"])[
        "code"
    ][0]
    bad = httpx.post(
        f"{sandbox_url}/lexware/api/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": sandbox_settings.lexware_client_id,
            "client_secret": "wrong",
        },
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    tokens = _token(sandbox_url, sandbox_settings, grant_type="authorization_code", code=code)
    _control(sandbox_url, "tokens/revoke", json={"organization_id": org["organization_id"]})
    again = _token(
        sandbox_url,
        sandbox_settings,
        grant_type="refresh_token",
        refresh_token=tokens.json()["refresh_token"],
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    with api(sandbox_url, tokens.json()["access_token"]) as c:
        assert c.get("/v1/profile").status_code == 401


def test_consent_page_and_demo_test_app_through_all_redirects(sandbox_url: str) -> None:
    demo = httpx.get(f"{sandbox_url}/_sandbox/demo").json()["lexware"]
    app = demo["test_app"]
    params = {
        "client_id": app["client_id"],
        "redirect_uri": app["redirect_uri"],
        "response_type": "code",
        "state": "abc",
    }
    landed = httpx.get(
        f"{sandbox_url}/lexware/api/oauth2/authorize", params=params, follow_redirects=True
    )
    assert landed.status_code == 200 and landed.json()["state"] == "abc"
    code = landed.json()["code"]
    tokens = httpx.post(
        f"{sandbox_url}/lexware/api/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        },
    )
    with api(sandbox_url, tokens.json()["access_token"]) as c:
        assert c.get("/v1/profile").json()["organizationId"] == demo["organization_id"]
    consent = httpx.post(
        f"{sandbox_url}/lexware/api/oauth2/authorize",
        data={
            "client_id": app["client_id"],
            "state": "x",
            "organization_id": demo["organization_id"],
            "decision": "deny",
        },
    )
    assert consent.status_code == 302 and "error=access_denied" in consent.headers["location"]


def test_missing_or_bad_bearer_gets_401(sandbox_url: str) -> None:
    assert httpx.get(f"{sandbox_url}/lexware/v1/profile").status_code == 401
    with api(sandbox_url, "not-a-key") as c:
        response = c.get("/v1/contacts")
    assert response.status_code == 401 and response.json()["status"] == 401


# --- Contacts ----------------------------------------------------------------------------


def test_contacts_numbers_filters_and_paging(client: httpx.Client) -> None:
    ids = []
    for i in range(3):
        created = client.post("/v1/contacts", json=company(f"Acme {i} AG", f"bill{i}@acme.test"))
        assert created.status_code == 201, created.text
        assert set(created.json()) == {"id", "resourceUri", "createdDate", "updatedDate", "version"}
        ids.append(created.json()["id"])
    numbers = [client.get(f"/v1/contacts/{i}").json()["roles"]["customer"]["number"] for i in ids]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]

    by_email = client.get("/v1/contacts", params={"email": "bill1@acme"}).json()
    assert [c["id"] for c in by_email["content"]] == [ids[1]]
    by_number = client.get("/v1/contacts", params={"number": numbers[2]}).json()
    assert [c["id"] for c in by_number["content"]] == [ids[2]]
    page = client.get("/v1/contacts", params={"name": "acme", "size": 2, "page": 1}).json()
    assert (page["totalElements"], page["totalPages"], page["number"]) == (3, 2, 1)
    assert page["last"] and not page["first"] and page["numberOfElements"] == 1
    assert client.get("/v1/contacts", params={"vendor": "true"}).json()["totalElements"] == 0
    short = client.get("/v1/contacts", params={"name": "ac"})
    assert short.status_code == 400 and short.json()["details"][0]["field"] == "name"


def test_contact_put_needs_current_version(client: httpx.Client) -> None:
    contact_id = client.post("/v1/contacts", json=company("Lock AG")).json()["id"]
    current = client.get(f"/v1/contacts/{contact_id}").json()
    current["company"]["name"] = "Lock & Key AG"
    updated = client.put(f"/v1/contacts/{contact_id}", json=current)
    assert updated.status_code == 200 and updated.json()["version"] == 1
    stale = client.put(f"/v1/contacts/{contact_id}", json=current)  # still version 0
    assert stale.status_code == 409
    after = client.get(f"/v1/contacts/{contact_id}").json()
    assert after["company"]["name"] == "Lock & Key AG" and after["version"] == 1
    assert after["roles"] == current["roles"]


# --- Vouchers ----------------------------------------------------------------------------


def test_draft_has_no_number_and_finalize_numbers_sequentially(
    sandbox_url: str, client: httpx.Client
) -> None:
    contact_id = client.post("/v1/contacts", json=company("Kunde GmbH")).json()["id"]
    draft = client.post("/v1/invoices", json=invoice(contact_id))
    assert draft.status_code == 201, draft.text
    draft_view = client.get(f"/v1/invoices/{draft.json()['id']}").json()
    assert draft_view["voucherStatus"] == "draft" and "voucherNumber" not in draft_view
    assert draft_view["totalPrice"]["totalGrossAmount"] == 238.0
    assert draft_view["address"]["name"] == "Kunde GmbH"
    assert client.get(f"/v1/invoices/{draft.json()['id']}/document").status_code == 406

    numbers = []
    for _ in range(2):
        created = client.post("/v1/invoices", params={"finalize": "true"}, json=invoice())
        view = client.get(f"/v1/invoices/{created.json()['id']}").json()
        assert view["voucherStatus"] == "open"
        numbers.append(view["voucherNumber"])
    assert numbers == ["RE0001", "RE0002"]
    finalised = _control(sandbox_url, f"vouchers/{draft.json()['id']}/finalize").json()
    assert finalised["voucherNumber"] == "RE0003" and finalised["voucherStatus"] == "open"
    document = client.get(f"/v1/invoices/{draft.json()['id']}/document")
    assert document.status_code == 200 and "documentFileId" in document.json()


def test_a_person_edits_a_drafts_price_and_the_totals_follow_only_drafts(
    sandbox_url: str, client: httpx.Client
) -> None:
    """What a bookkeeper does in the app (the reconciliation's "amount altered"): list and
    voucher show the new totals and VAT; a finalised voucher cannot be edited."""
    contact_id = client.post("/v1/contacts", json=company("Kunde GmbH")).json()["id"]
    draft = client.post("/v1/invoices", json=invoice(contact_id)).json()["id"]
    edited = _control(sandbox_url, f"vouchers/{draft}/edit", json={"net_amount": 80.0})
    assert edited.status_code == 200, edited.text
    view = client.get(f"/v1/invoices/{draft}").json()
    assert view["totalPrice"]["totalNetAmount"] == 160.0
    assert view["totalPrice"]["totalGrossAmount"] == 190.4
    assert view["taxAmounts"] == [{"taxRatePercentage": 19, "taxAmount": 30.4, "netAmount": 160.0}]
    listed = client.get(
        "/v1/voucherlist", params={"voucherType": "invoice", "voucherStatus": "draft"}
    ).json()["content"]
    assert [r["totalAmount"] for r in listed if r["id"] == draft] == [190.4]
    assert view["version"] == 1
    _control(sandbox_url, f"vouchers/{draft}/finalize")
    refused = _control(sandbox_url, f"vouchers/{draft}/edit", json={"net_amount": 75.0})
    assert refused.status_code == 409, refused.text


def test_credit_note_links_preceding_invoice(client: httpx.Client) -> None:
    inv = client.post("/v1/invoices", params={"finalize": "true"}, json=invoice()).json()
    note = client.post(
        "/v1/credit-notes",
        params={"finalize": "true", "precedingSalesVoucherId": inv["id"]},
        json=invoice(net=50.0),
    )
    assert note.status_code == 201, note.text
    view = client.get(f"/v1/credit-notes/{note.json()['id']}").json()
    assert view["voucherNumber"] == "GS0001"
    assert view["relatedVouchers"] == [
        {"id": inv["id"], "voucherNumber": "RE0001", "voucherType": "invoice"}
    ]
    assert client.get(f"/v1/invoices/{note.json()['id']}").status_code == 404
    unknown = client.post(
        "/v1/credit-notes",
        params={"precedingSalesVoucherId": "00000000-0000-0000-0000-0"},
        json=invoice(),
    )
    assert unknown.status_code == 406


def test_invalid_invoice_gets_details_or_legacy_issue_list(sandbox_url: str) -> None:
    payload = invoice()
    del payload["voucherDate"]
    payload["lineItems"][0]["unitPrice"]["taxRatePercentage"] = 18
    regular = new_org(sandbox_url)
    with api(sandbox_url, regular["api_key"]) as c:
        response = c.post("/v1/invoices", json=payload)
    body = response.json()
    assert response.status_code == 406
    assert {"timestamp", "status", "error", "path", "traceId", "message"} <= set(body)
    fields = {d["field"] for d in body["details"]}
    assert {"voucherDate", "lineItems[0].unitPrice.taxRatePercentage"} <= fields
    legacy = new_org(sandbox_url, legacy_errors=True)
    with api(sandbox_url, legacy["api_key"]) as c:
        response = c.post("/v1/invoices", json=payload)
    assert response.status_code == 406 and "IssueList" in response.json()


def refused_fields(answer: httpx.Response) -> dict[str, str]:
    """``field → violation`` of a 406 in Lexware's regular error body."""
    assert answer.status_code == 406, answer.text
    body = answer.json()
    assert {"timestamp", "status", "error", "path", "traceId", "message", "details"} <= set(body)
    assert body["status"] == 406
    return {d["field"]: d["violation"] for d in body["details"]}


def test_a_currency_other_than_eur_is_refused(client: httpx.Client) -> None:
    total = invoice()
    total["totalPrice"]["currency"] = "USD"
    assert refused_fields(client.post("/v1/invoices", json=total)) == {
        "totalPrice.currency": "NOTVALID"
    }
    line = invoice()
    line["lineItems"][0]["unitPrice"]["currency"] = "CHF"
    assert refused_fields(client.post("/v1/credit-notes", json=line)) == {
        "lineItems[0].unitPrice.currency": "NOTVALID"
    }
    assert client.post("/v1/invoices", json=invoice()).status_code == 201


def test_voucher_dates_before_1900_or_after_2099_are_refused(client: httpx.Client) -> None:
    for kind, day in (
        ("invoices", "1899-12-31T23:59:59.999+01:00"),
        ("invoices", "2100-01-01T00:00:00.000+01:00"),
        ("credit-notes", "2100-01-01T00:00:00.000Z"),
    ):
        payload = {**invoice(), "voucherDate": day}
        assert refused_fields(client.post(f"/v1/{kind}", json=payload)) == {
            "voucherDate": "NOTVALID"
        }
    for day in ("1900-01-01T00:00:00.000+01:00", "2099-12-31T00:00:00.000+01:00"):
        answer = client.post("/v1/invoices", json={**invoice(), "voucherDate": day})
        assert answer.status_code == 201, answer.text


def test_unit_prices_beyond_4_decimals_or_below_10_11_are_refused(client: httpx.Client) -> None:
    net = "lineItems[0].unitPrice.netAmount"
    for amount in (1.00001, 1e11, -1e11):
        answer = client.post("/v1/invoices", json=invoice(net=amount))
        assert refused_fields(answer) == {net: "NOTVALID"}
    gross = invoice(net=19.12345, tax_type="gross")
    assert refused_fields(client.post("/v1/credit-notes", json=gross)) == {
        "lineItems[0].unitPrice.grossAmount": "NOTVALID"
    }
    for amount in (1.2345, 99999999999.9999, -99999999999.9999):
        answer = client.post("/v1/invoices", json=invoice(net=amount))
        assert answer.status_code == 201, answer.text


def test_voucherlist_requires_both_filters(client: httpx.Client) -> None:
    client.post("/v1/invoices", json=invoice())
    client.post("/v1/invoices", params={"finalize": "true"}, json=invoice())
    assert client.get("/v1/voucherlist", params={"voucherType": "invoice"}).status_code == 400
    assert client.get("/v1/voucherlist", params={"voucherStatus": "open"}).status_code == 400
    page = client.get(
        "/v1/voucherlist", params={"voucherType": "invoice,creditnote", "voucherStatus": "open"}
    )
    rows = page.json()["content"]
    assert page.json()["totalElements"] == 1 and rows[0]["voucherNumber"] == "RE0001"
    both = client.get(
        "/v1/voucherlist", params={"voucherType": "invoice", "voucherStatus": "draft,open"}
    )
    assert both.json()["totalElements"] == 2


def test_payment_moves_to_balanced_when_paid(sandbox_url: str, client: httpx.Client) -> None:
    inv = client.post("/v1/invoices", params={"finalize": "true"}, json=invoice()).json()
    before = client.get(f"/v1/payments/{inv['id']}").json()
    assert (before["paymentStatus"], before["openAmount"]) == ("openRevenue", 238.0)
    assert before["voucherStatus"] == "open" and before["paidDate"] is None
    assert _control(sandbox_url, f"vouchers/{inv['id']}/pay").status_code == 200
    after = client.get(f"/v1/payments/{inv['id']}").json()
    assert (after["paymentStatus"], after["openAmount"]) == ("balanced", 0.0)
    assert after["voucherStatus"] == "paid" and after["paidDate"]
    assert _control(sandbox_url, f"vouchers/{inv['id']}/void").status_code == 409


def test_small_business_refuses_vat_and_can_be_switched(sandbox_url: str) -> None:
    org = new_org(sandbox_url, small_business=True)
    with api(sandbox_url, org["api_key"]) as c:
        profile = c.get("/v1/profile").json()
        assert profile["smallBusiness"] is True and profile["taxType"] == "vatfree"
        refused = c.post("/v1/invoices", json=invoice())
        assert refused.status_code == 406
        assert "taxConditions.taxType" in {d["field"] for d in refused.json()["details"]}
        with_rate = c.post("/v1/invoices", json=invoice(rate=19, tax_type="vatfree"))
        assert with_rate.status_code == 406
        assert c.post("/v1/invoices", json=invoice(rate=0, tax_type="vatfree")).status_code == 201
        switched = httpx.put(
            f"{sandbox_url}/_sandbox/lexware/organizations/{org['organization_id']}/small-business",
            json={"enabled": False},
        )
        assert switched.json()["profile"]["smallBusiness"] is False
        assert c.post("/v1/invoices", json=invoice()).status_code == 201


# --- Event subscriptions ----------------------------------------------------------------


class _Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        self.arrived = threading.Event()

    async def endpoint(self, request: Request) -> Response:
        self.calls.append((await request.body(), dict(request.headers)))
        self.arrived.set()
        return Response(status_code=200)


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, str]]:
    rec = _Receiver()
    app = Starlette(routes=[Route("/hook", rec.endpoint, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield rec, f"{url}/hook"


def _verify(sandbox_url: str, body: bytes, signature: str) -> None:
    pem = httpx.get(f"{sandbox_url}/_sandbox/lexware/public-key").text
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA512())


def test_finalise_fires_signed_status_callback(
    sandbox_url: str,
    client: httpx.Client,
    org: dict[str, Any],
    receiver: tuple[_Receiver, str],
) -> None:
    rec, hook = receiver
    sub = client.post(
        "/v1/event-subscriptions", json={"eventType": "invoice.status.changed", "callbackUrl": hook}
    )
    assert sub.status_code == 201 and sub.headers["location"].endswith(sub.json()["id"])
    duplicate = client.post(
        "/v1/event-subscriptions", json={"eventType": "invoice.status.changed", "callbackUrl": hook}
    )
    assert duplicate.status_code == 409
    listed = client.get("/v1/event-subscriptions").json()["content"]
    assert [s["subscriptionId"] for s in listed] == [sub.json()["id"]]

    draft = client.post("/v1/invoices", json=invoice()).json()
    _control(sandbox_url, f"vouchers/{draft['id']}/finalize")
    assert rec.arrived.wait(timeout=5), "no callback arrived"
    body, headers = rec.calls[0]
    payload = json.loads(body)
    assert payload["eventType"] == "invoice.status.changed"
    assert payload["resourceId"] == draft["id"]
    assert payload["organizationId"] == org["organization_id"] and payload["eventDate"]
    _verify(sandbox_url, body, headers["x-lxo-signature"])

    assert client.delete(f"/v1/event-subscriptions/{sub.json()['id']}").status_code == 204
    assert client.get("/v1/event-subscriptions").json()["content"] == []


def test_paying_a_purchase_voucher_fires_voucher_status_changed(
    sandbox_url: str, client: httpx.Client, receiver: tuple[_Receiver, str]
) -> None:
    """Bookkeeping vouchers (``/v1/vouchers``) report as ``voucher.*``, not by their type."""
    rec, hook = receiver
    sub = {"eventType": "voucher.status.changed", "callbackUrl": hook}
    assert client.post("/v1/event-subscriptions", json=sub).status_code == 201
    outgo = next(
        c["id"] for c in client.get("/v1/posting-categories").json() if c["type"] == "outgo"
    )
    bill = {
        "type": "purchaseinvoice",
        "voucherNumber": "ER-1",
        "voucherDate": "2024-03-01",
        "totalGrossAmount": 107.0,
        "totalTaxAmount": 7.0,
        "taxType": "net",
        "useCollectiveContact": True,
        "voucherItems": [
            {"amount": 100.0, "taxAmount": 7.0, "taxRatePercent": 7, "categoryId": outgo}
        ],
    }
    made = client.post("/v1/vouchers", json=bill).json()
    assert _control(sandbox_url, f"vouchers/{made['id']}/pay").status_code == 200
    assert rec.arrived.wait(timeout=5), "no callback arrived"
    payload = json.loads(rec.calls[0][0])
    assert (payload["eventType"], payload["resourceId"]) == ("voucher.status.changed", made["id"])
    assert client.get(f"/v1/vouchers/{made['id']}").json()["voucherStatus"] == "paid"


def test_a_late_visible_invoice_is_made_but_hidden_from_every_read_until_its_delay(
    sandbox_url: str, org: dict[str, Any], client: httpx.Client
) -> None:
    """drop_response_visible_late: the voucher is created, its answer is lost, and no read
    of the public API shows it until delay_seconds of sandbox time have passed."""
    fault = {
        "system": "lexware",
        "path_pattern": "/v1/invoices",
        "method": "POST",
        "kind": "drop_response_visible_late",
        "delay_seconds": 60,
    }
    assert httpx.post(f"{sandbox_url}/_sandbox/faults", json=fault).status_code == 201

    assert client.post("/v1/invoices", json=invoice()).status_code == 504

    state = httpx.get(f"{sandbox_url}/_sandbox/lexware/organizations/{org['organization_id']}")
    [made] = state.json()["vouchers"]  # the books hold it
    listing = {"voucherType": "invoice", "voucherStatus": "any"}
    assert client.get("/v1/voucherlist", params=listing).json()["content"] == []
    assert client.get(f"/v1/invoices/{made['id']}").status_code == 404
    assert client.get(f"/v1/payments/{made['id']}").status_code == 404

    httpx.post(f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": 61})

    [row] = client.get("/v1/voucherlist", params=listing).json()["content"]
    assert row["id"] == made["id"]
    assert client.get(f"/v1/invoices/{made['id']}").json()["id"] == made["id"]
    assert client.get(f"/v1/payments/{made['id']}").status_code == 200


def test_a_voucher_has_a_read_only_page_for_the_console(
    sandbox_url: str, client: httpx.Client
) -> None:
    """Where the console's "open in Lexware Office" leads under the sandbox."""
    created = client.post("/v1/invoices", params={"finalize": "true"}, json=invoice())
    page = httpx.get(f"{sandbox_url}/_sandbox/lexware/vouchers/{created.json()['id']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    number = client.get(f"/v1/invoices/{created.json()['id']}").json()["voucherNumber"]
    assert f"invoice {number}</h1>" in page.text and "238.0" in page.text
    unknown = httpx.get(f"{sandbox_url}/_sandbox/lexware/vouchers/no-such-voucher")
    assert unknown.status_code == 404 and "deleted or never booked" in unknown.text
