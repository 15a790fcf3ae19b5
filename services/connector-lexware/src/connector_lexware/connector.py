"""Lexware Office: invoices and credit notes as drafts, customers as contacts; purchase
documents as bookkeeping vouchers with their file, suppliers as vendor contacts.

A draft has no number yet; it gets one when someone finalises it in Lexware Office,
and the read-back reports that number later. A purchase voucher is booked at once under
the supplier's number (connector_lexware.purchase_booking).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connector_lexware import completeness, mapping, purchases, reconciliation, subscriptions
from connector_lexware.client import LexwareClient
from connector_lexware.contacts import Contacts
from connector_lexware.opened_vouchers import OpenedVouchers
from connector_lexware.profile import SMALL_BUSINESS_MESSAGE, Profiles
from connector_lexware.purchase_booking import PurchaseVouchers
from invoicesync_shared.connectors.adoption import Candidate, System, adopt
from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.preview import PreviewAnswer, PreviewProblem
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.provenance import marker_in
from invoicesync_shared.connectors.reconciliation import Period
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import PURCHASE_KINDS, SALES_KINDS, DocumentSnapshot
from invoicesync_shared.events.reconciliations import RemoteEntry
from invoicesync_shared.integration_settings import LexwareSettings

# After an unknown outcome: how far to page and how many drafts to open at most.
LOOKUP_PAGES = 4
LOOKUP_CANDIDATES = 5
LEXWARE = System("Lexware Office", "introduction (a line of its own)")
Context = PushContext[LexwareSettings]


class LexwareConnector:
    system = "lexware"
    settings_model = LexwareSettings
    kinds = SALES_KINDS | PURCHASE_KINDS
    file_limits = purchases.FILE_LIMITS

    def __init__(
        self,
        client: LexwareClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        profile_ttl: float = 300.0,
        callback_url: str | None = None,
    ) -> None:
        self._client = client
        self._ledger = Ledger(sessionmaker, self.system)
        self._callback_url = callback_url
        self._contacts = Contacts(client)
        self._purchases = PurchaseVouchers(client)
        self._opened = OpenedVouchers()  # what lookups opened, while unchanged
        self.profiles = Profiles(client, ttl=profile_ttl)

    def scope(self, integration: Integration, settings: LexwareSettings) -> str:
        return mapping.scope_of(integration.id, settings)

    async def verify(self, integration: Integration, settings: LexwareSettings) -> dict[str, Any]:
        """The organisation behind the grant; refuses a small business. Subscribes it to
        the voucher events that tell us a draft got its number or was paid."""
        scope = self.scope(integration, settings)
        profile = await self.profiles.fetch(integration.id, scope)
        profile.check()
        details: dict[str, Any] = {
            "organization_id": profile.organization_id,
            "company_name": profile.company_name,
            "tax_type": profile.tax_type,
        }
        if self._callback_url:
            details["event_subscriptions"] = await subscriptions.ensure(
                self._client, integration.id, scope, self._callback_url
            )
        return details

    async def push(self, ctx: Context, document: DocumentSnapshot) -> Booking:
        if ctx.is_update and ctx.previous is not None:
            # The API cannot change a sent voucher; edits are made in Lexware Office.
            return ctx.previous
        scope = self.scope(ctx.integration, ctx.settings)
        if document.kind in PURCHASE_KINDS:
            return await self._purchases.push(ctx, document, scope)
        completeness.check(document)
        (await self.profiles.current(ctx.integration.id, scope)).check()
        contact_id, created = await self._contacts.resolve(ctx, scope, document.customer)
        payload = mapping.voucher_payload(document, contact_id=contact_id, reference=ctx.reference)
        params = await self._preceding(ctx, document)
        try:
            body = await self._client.post(
                ctx.integration.id, scope, mapping.voucher_path(document.kind), payload, params
            )
        except PermanentError as exc:
            if exc.code == "tax_conditions_rejected":
                # Perhaps switched to small business since the profile was cached.
                self.profiles.forget(scope)
                (await self.profiles.current(ctx.integration.id, scope)).check()
            raise
        return Booking(str(body["id"]), None, customer_created=created)

    async def preview(self, ctx: Context, document: DocumentSnapshot) -> PreviewAnswer:
        """The voucher as ``push`` would post it, every field Lexware would miss, and the
        organisation's profile (cached as for a push); read-only. A contact it would
        create has no id yet: ``address.contactId`` is then null."""
        problems: list[PreviewProblem] = [
            PreviewProblem("incomplete_data", field, _missing_message(field))
            for field in completeness.missing_fields(document)
        ]
        if (currency := completeness.unsupported_currency(document)) is not None:
            problems.append(PreviewProblem.of(currency, "currency"))
        for number, line in enumerate(document.lines):
            if (rate := completeness.unsupported_rates([line])) is not None:
                problems.append(PreviewProblem.of(rate, f"lines.{number}.vat_rate"))
        scope = self.scope(ctx.integration, ctx.settings)
        profile = await self.profiles.current(ctx.integration.id, scope)
        if profile.is_small_business:
            problems.append(PreviewProblem("small_business", None, SMALL_BUSINESS_MESSAGE))
        customer = await self._contacts.preview(ctx, scope, document.customer)
        payload = mapping.voucher_payload(
            document, contact_id=customer.remote_id or "", reference=ctx.reference
        )
        payload["address"]["contactId"] = customer.remote_id
        return PreviewAnswer(payload, customer, problems)

    async def find_by_reference(self, ctx: Context, document: DocumentSnapshot) -> Booking | None:
        """Vouchers of the document's date (and contact, when linked), same total and newest
        first; only the first few are opened to read the reference and marker lines. The
        shared adoption rule decides which, if any, is ours."""
        scope = self.scope(ctx.integration, ctx.settings)
        if document.kind in PURCHASE_KINDS:
            return await self._purchases.find_by_reference(ctx, document, scope)
        contact_id = await self._contacts.find_linked(ctx, document.customer)
        rows = await self._candidates(ctx, scope, document, contact_id)
        # Newest first; every voucher with our total is opened (alike documents of one
        # day and customer may be many, and missing ours would book it twice), then a
        # few others in case Lexware rounded the total differently.
        rows.sort(key=lambda r: str(r.get("createdDate") or ""), reverse=True)
        same_total = [r for r in rows if _total_matches(r, document)]
        others = [r for r in rows if not _total_matches(r, document)][:LOOKUP_CANDIDATES]
        found: list[Candidate] = []
        for row in [*same_total, *others]:
            voucher = self._opened.get(scope, row)
            if voucher is None:
                path = f"{mapping.voucher_path(document.kind)}/{row['id']}"
                voucher = await self._client.get(ctx.integration.id, scope, path)
                self._opened.put(scope, voucher)
            if mapping.carries_reference(voucher, ctx.reference):
                found.append(_candidate(voucher))
        return adopt(found, document, system=LEXWARE, customer=contact_id)

    def read_entries(
        self,
        integration: Integration,
        settings: LexwareSettings,
        period: Period,
        ledger: Ledger,
        detailed: bool = False,
    ) -> AsyncIterator[list[RemoteEntry]]:
        """The period's vouchers, normalised (connector_lexware.reconciliation)."""
        return reconciliation.read_entries(
            self._client, integration, settings, period, ledger, detailed=detailed
        )

    async def _candidates(
        self, ctx: PushContext, scope: str, document: DocumentSnapshot, contact_id: str | None
    ) -> list[dict[str, Any]]:
        day = document.issue_date.isoformat()
        filters = {
            "voucherType": mapping.list_type(document.kind),
            "voucherStatus": mapping.EVERY_STATUS,
        }
        rows = await self._client.voucher_rows(
            ctx.integration.id,
            scope,
            filters,
            day=day,
            contact_id=contact_id,
            pages=LOOKUP_PAGES,
            stop_past_day=True,
        )
        return [r for r in rows if _is_candidate(r, day, contact_id)]

    async def _preceding(self, ctx: PushContext, document: DocumentSnapshot) -> dict[str, str]:
        """A credit note names the Lexware invoice it corrects, when that was pushed here."""
        if document.kind != "credit_note" or document.credit_note_for is None:
            return {}
        invoice_id = await self._ledger.latest_remote_id(
            ctx.integration.id, document.credit_note_for
        )
        return {"precedingSalesVoucherId": invoice_id} if invoice_id else {}


def _candidate(voucher: dict[str, Any]) -> Candidate:
    number = voucher.get("voucherNumber") or None
    return Candidate(
        remote_id=str(voucher["id"]),
        booking_number=number,
        label=f"voucher {number}" if number else f"draft {voucher['id']}",
        marker=marker_in(voucher.get("introduction")),
        date=mapping.voucher_day(voucher),
        total=mapping.gross_total(voucher),
        customer=(voucher.get("address") or {}).get("contactId"),
    )


def _total_matches(row: dict[str, Any], document: DocumentSnapshot) -> bool:
    return abs(float(row.get("totalAmount") or 0) - float(document.gross_total)) <= 0.01


def _is_candidate(row: dict[str, Any], day: str, contact_id: str | None) -> bool:

    if str(row.get("voucherDate", ""))[:10] != day:
        return False
    return contact_id is None or row.get("contactId") == contact_id


def _missing_message(field: str) -> str:
    where = (
        "the client (PATCH /v1/clients/{id})"
        if field.startswith("company.")
        else "the document's customer"
    )
    return (
        f"Lexware Office needs {field} / Lexware Office braucht {field}: add it to {where}, "
        "then preview again."
    )
