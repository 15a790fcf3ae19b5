"""Booking a purchase document in Lexware Office: its supplier as a vendor contact, a
bookkeeping voucher, then its original file uploaded to that voucher.

Two writes make one booking. Once the voucher exists, a failed upload is an unknown
outcome for the runtime: it looks the document up (never a second voucher), and the
lookup finishes what is missing, uploading the file to the voucher it found.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connector_lexware import completeness, purchases
from connector_lexware.client import LexwareClient
from connector_lexware.contacts import Contacts
from connector_lexware.mapping import EVERY_STATUS, reference_line, voucher_day
from invoicesync_shared.connectors.adoption import Candidate, System, adopt
from invoicesync_shared.connectors.errors import PermanentError, SyncError, UnknownOutcome
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.provenance import marker_in
from invoicesync_shared.events.documents import DocumentSnapshot

LEXWARE_VOUCHERS = System("Lexware Office", "voucher remark (a line of its own)")
LOOKUP_PAGES = 4


class PurchaseVouchers:
    def __init__(self, client: LexwareClient) -> None:
        self._client = client
        self.suppliers = Contacts(client, role="supplier")
        self._categories: dict[str, str] = {}  # scope → outgo posting category id

    async def push(self, ctx: PushContext, document: DocumentSnapshot, scope: str) -> Booking:
        for refusal in (
            completeness.unsupported_currency(document),
            completeness.unsupported_rates(document.lines),
        ):
            if refusal is not None:
                raise refusal
        content = await ctx.files.read(document.file) if document.file else None
        contact_id, created = await self.suppliers.resolve(ctx, scope, document.customer)
        payload = purchases.voucher_payload(
            document,
            contact_id=contact_id,
            category_id=await self._category(ctx, scope),
            reference=ctx.reference,
        )
        body = await self._client.post(ctx.integration.id, scope, "v1/vouchers", payload)
        voucher_id = str(body["id"])
        if content is not None:
            try:
                await self._upload(ctx, scope, voucher_id, document, content)
            except SyncError as exc:
                # The voucher exists: pushing again would book it twice.
                raise UnknownOutcome(f"voucher {voucher_id} made, its file not: {exc}") from exc
        return Booking(voucher_id, payload["voucherNumber"], customer_created=created)

    async def find_by_reference(
        self, ctx: PushContext, document: DocumentSnapshot, scope: str
    ) -> Booking | None:
        """Vouchers of the document's type, number, date (and supplier, when linked),
        opened to read our reference and marker from the remark; the shared adoption rule
        decides. The adopted voucher gets the file if it has none yet."""
        contact_id = await self.suppliers.find_linked(ctx, document.customer)
        vouchers: dict[str, dict[str, Any]] = {}
        for row in await self._rows(ctx, scope, document, contact_id):
            path = f"v1/vouchers/{row['id']}"
            voucher = await self._client.get(ctx.integration.id, scope, path)
            if reference_line(ctx.reference) in str(voucher.get("remark") or "").splitlines():
                vouchers[str(voucher["id"])] = voucher
        found = [_candidate(v, document) for v in vouchers.values()]
        booking = adopt(found, document, system=LEXWARE_VOUCHERS, customer=contact_id)
        if booking is not None and document.file and not vouchers[booking.remote_id]["files"]:
            content = await ctx.files.read(document.file)
            await self._upload(ctx, scope, booking.remote_id, document, content)
        return booking

    async def _rows(
        self, ctx: PushContext, scope: str, document: DocumentSnapshot, contact_id: str | None
    ) -> list[dict[str, Any]]:
        filters = {
            "voucherType": purchases.voucher_type(document.kind),
            "voucherStatus": f"{EVERY_STATUS},unchecked",
            "voucherNumber": purchases.voucher_number(document),
        }
        return await self._client.voucher_rows(
            ctx.integration.id,
            scope,
            filters,
            day=document.issue_date.isoformat(),
            contact_id=contact_id,
            pages=LOOKUP_PAGES,
        )

    async def _upload(
        self,
        ctx: PushContext,
        scope: str,
        voucher_id: str,
        document: DocumentSnapshot,
        content: bytes,
    ) -> None:
        assert document.file is not None
        part = (document.file.filename, content, document.file.content_type)
        path = f"v1/vouchers/{voucher_id}/files"
        await self._client.upload(ctx.integration.id, scope, path, part)

    async def _category(self, ctx: PushContext, scope: str) -> str:
        """The organisation's outgo posting category, read once per organisation."""
        if scope not in self._categories:
            body = await self._client.get(ctx.integration.id, scope, "v1/posting-categories")
            found = purchases.purchase_category(list(body.get("content") or []))
            if found is None:
                raise PermanentError(
                    "rejected",
                    "Lexware Office offers no expense posting category to book purchase "
                    "documents on: add one in Lexware Office, then retry.",
                )
            self._categories[scope] = found
        return self._categories[scope]


def _candidate(voucher: dict[str, Any], document: DocumentSnapshot) -> Candidate:
    number = voucher.get("voucherNumber") or None
    total = voucher.get("totalGrossAmount")
    sign = -1 if document.gross_total < 0 else 1  # the voucher's amounts are positive
    return Candidate(
        remote_id=str(voucher["id"]),
        booking_number=number,
        label=f"voucher {number}" if number else f"voucher {voucher['id']}",
        marker=marker_in(voucher.get("remark")),
        date=voucher_day(voucher),
        total=None if total is None else sign * Decimal(str(total)),
        customer=voucher.get("contactId"),
    )
