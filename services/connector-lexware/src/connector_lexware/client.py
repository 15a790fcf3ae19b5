"""HTTP to Lexware Office on the shared ``VendorClient``; what is Lexware's own is here:
its paths, its Spring pages, and every call paced inside the organisation's 2
requests/second, so 429s stay the exception."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from connector_lexware import errors
from invoicesync_shared.connectors.errors import SyncError
from invoicesync_shared.connectors.oauth import TokenStore
from invoicesync_shared.connectors.pacing import Pacer
from invoicesync_shared.connectors.vendor_client import Call, ScopePacing, VendorClient

PAGE_SIZE = 250  # the largest page Lexware serves


class LexwareClient:
    def __init__(
        self, http: httpx.AsyncClient, tokens: TokenStore, *, base_url: str, pacer: Pacer
    ) -> None:
        self._base = base_url.rstrip("/")
        self._vendor = VendorClient(
            http,
            tokens,
            system="lexware",
            name="Lexware Office",
            classify=_classify,
            pacing=ScopePacing(pacer),
        )

    async def get(
        self,
        integration_id: uuid.UUID,
        scope: str,
        path: str,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return await self._call(integration_id, scope, "GET", path, params=params)

    async def post(
        self,
        integration_id: uuid.UUID,
        scope: str,
        path: str,
        body: dict[str, Any],
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return await self._call(integration_id, scope, "POST", path, params=params, json=body)

    async def upload(
        self,
        integration_id: uuid.UUID,
        scope: str,
        path: str,
        file: tuple[str, bytes, str],
    ) -> dict[str, Any]:
        """A multipart upload of ``file`` (filename, bytes, content type) as part ``file``."""
        return await self._call(integration_id, scope, "POST", path, files={"file": file})

    async def page(
        self, integration_id: uuid.UUID, scope: str, path: str, params: dict[str, str], number: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """One Spring page of a collection: its rows and whether it is the last."""
        query = {**params, "page": str(number), "size": str(PAGE_SIZE)}
        body = await self.get(integration_id, scope, path, query)
        return list(body.get("content") or []), bool(body.get("last", True))

    async def voucher_rows(
        self,
        integration_id: uuid.UUID,
        scope: str,
        filters: dict[str, str],
        *,
        day: str,
        contact_id: str | None,
        pages: int,
        stop_past_day: bool = False,
    ) -> list[dict[str, Any]]:
        """The ``v1/voucherlist`` rows of a lookup: ``filters``, voucher date ``day`` (ISO)
        and the contact, when known; at most ``pages`` pages, as a lookup wants a few
        vouchers, not the whole list. Pages come newest voucher date first, so with
        ``stop_past_day`` a page reaching past ``day`` is the last one read."""
        params = {
            **filters,
            # Narrowing filters of the real API; callers check the rows all the same.
            "voucherDateFrom": day,
            "voucherDateTo": day,
            **({"contactId": contact_id} if contact_id else {}),
        }
        found: list[dict[str, Any]] = []
        for number in range(pages):
            rows, last = await self.page(integration_id, scope, "v1/voucherlist", params, number)
            found += rows
            if last or not rows:
                break
            if stop_past_day and str(rows[-1].get("voucherDate", ""))[:10] < day:
                break
        return found

    async def _call(
        self,
        integration_id: uuid.UUID,
        scope: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        call = Call(integration_id, method, f"{self._base}/{path}", scope=scope)
        response = await self._vendor.send(call, params=params, json=json, files=files)
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {"content": body}


def _classify(response: httpx.Response, call: Call) -> SyncError | None:
    return errors.classify(response, is_write=call.is_write)
