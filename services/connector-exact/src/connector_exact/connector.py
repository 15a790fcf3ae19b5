"""Exact Online: invoices and credit notes as SalesEntries, purchase documents as
PurchaseEntries with their file attached, customers and suppliers as crm/Accounts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from connector_exact import errors, mapping, reconciliation
from connector_exact.client import ExactClient
from connector_exact.master_data import DEFAULT_TTL, DivisionLists
from invoicesync_shared.connectors.adoption import Candidate, System, adopt
from invoicesync_shared.connectors.customers import CustomerLinks, RemoteCustomer
from invoicesync_shared.connectors.errors import PermanentError
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.preview import PreviewAnswer, PreviewCustomer, PreviewProblem
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.provenance import marker, marker_in
from invoicesync_shared.connectors.reconciliation import Period
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import (
    PURCHASE_KINDS,
    SALES_KINDS,
    CustomerData,
    DocumentSnapshot,
)
from invoicesync_shared.events.reconciliations import RemoteEntry
from invoicesync_shared.integration_settings import ExactSettings

REVENUE = 110  # GLAccounts.Type of revenue accounts
# GLAccounts.Type of the cost accounts a purchase line may take: cost of goods, other
# costs, general expenses, depreciation, R&D, staff, manufacturing overhead, other.
COSTS = (111, 120, 121, 122, 123, 125, 126, 130)
EXACT = System("Exact Online", "description")
# VATCodes.VATTransactionType: usable for sales, for purchases, or both.
SALES_SIDE, PURCHASE_SIDE, BOTH = "S", "P", "B"
INCLUDING = "B"  # VATCodes.Type of a code whose amounts include the VAT
MAX_FILED = 10_000


Context = PushContext[ExactSettings]


@dataclass(frozen=True)
class _Filed:
    """An Exact document filed for one purchase document, and whether its file is on it."""

    document_id: str
    attached: bool


class ExactConnector:
    system = "exact"
    settings_model = ExactSettings
    kinds = SALES_KINDS | PURCHASE_KINDS
    file_limits = mapping.FILE_LIMITS

    def __init__(self, client: ExactClient, master_data_ttl: timedelta = DEFAULT_TTL) -> None:
        self._client = client
        # Per division: GL account code → ID, VAT fraction → code, journal code → description.
        self._gl_accounts: DivisionLists[str] = DivisionLists(master_data_ttl)
        self._cost_accounts: DivisionLists[str] = DivisionLists(master_data_ttl)
        self._vat_codes: DivisionLists[tuple[Decimal, str]] = DivisionLists(master_data_ttl)
        self._journals: DivisionLists[str] = DivisionLists(master_data_ttl)
        # Exact documents filed for an entry not yet created, by integration and document,
        # then by supplier account (an edit between attempts never links a document filed
        # under another account), with whether the file is attached: a retry of the entry
        # (a 429, a 500, a timeout) links the one already filed instead of filing again.
        # After an unknown outcome find_by_reference fills it from Exact (our marker in
        # the Subject), so a lost answer or another replica files no second document.
        self._filed: dict[tuple[uuid.UUID, uuid.UUID], dict[str, _Filed]] = {}

    def scope(self, integration: Integration, settings: ExactSettings) -> str:
        return str(settings.division)

    def read_entries(
        self,
        integration: Integration,
        settings: ExactSettings,
        period: Period,
        ledger: Ledger,
        detailed: bool = False,
    ) -> AsyncIterator[list[RemoteEntry]]:
        """The period's sales entries, normalised (connector_exact.reconciliation)."""
        return reconciliation.read_entries(
            self._client, integration, settings, period, ledger, detailed=detailed
        )

    async def push(self, ctx: Context, document: DocumentSnapshot) -> Booking:
        """A sales document as a SalesEntry; a purchase document as a PurchaseEntry of the
        purchase journal, its file first filed as an Exact document the entry points at
        (Exact's documented order: Documents, DocumentAttachments, then the entry)."""
        division = ctx.settings.division
        purchase = mapping.is_purchase(document)
        party_id, created = await self._customer(ctx, division, document.customer, purchase)
        gl_account_ids = [
            await self._gl_account(ctx, division, line.gl_account, purchase=purchase)
            for line in document.lines
        ]
        vat_codes = [
            await self._vat_code(ctx, division, line.vat_rate, purchase=purchase)
            for line in document.lines
        ]
        attachment = await self._attach(ctx, division, document, party_id) if purchase else None
        payload = mapping.entry_payload(
            document,
            reference=ctx.reference,
            journal=_journal(ctx, document),
            party_id=party_id,
            gl_account_ids=gl_account_ids,
            vat_codes=vat_codes,
            attachment=attachment,
        )
        try:
            body = await self._client.post(
                ctx.integration.id, division, _entries(document), payload
            )
        except PermanentError as exc:
            named = errors.for_purchase(exc) if purchase else exc
            if named is exc:
                raise
            raise named from exc
        self._filed.pop((ctx.integration.id, document.id), None)
        entry = body["d"]
        return Booking(str(entry["EntryID"]), str(entry["EntryNumber"]), customer_created=created)

    async def _attach(
        self, ctx: Context, division: int, document: DocumentSnapshot, supplier_id: str
    ) -> str | None:
        """The Exact document holding the original file (None without a file). The file is
        read before anything is written, so a missing file writes nothing in Exact. Kept
        per process until the entry exists, and found again in Exact after an unknown
        outcome (find_by_reference) or when an earlier try ran in another process or
        before a restart (a plain 429 or 500 of the entry left its document behind): the
        retry reuses it, never files a second one."""
        if document.file is None:
            return None
        key = (ctx.integration.id, document.id)
        if ctx.tried_before and not self._filed.get(key):
            await self._find_filed(ctx, document)  # another replica's try may have filed it
        filed = self._filed.get(key, {}).get(supplier_id)
        if filed is not None and filed.attached:
            return filed.document_id
        content = await ctx.files.read(document.file)
        if filed is None:
            created = await self._client.post(
                ctx.integration.id,
                division,
                "documents/Documents",
                mapping.document_payload(document, supplier_id),
            )
            filed = _Filed(str(created["d"]["ID"]), attached=False)
            self._remember(key, supplier_id, filed)  # a failed attachment keeps the document
        await self._client.post(
            ctx.integration.id,
            division,
            "documents/DocumentAttachments",
            mapping.attachment_payload(filed.document_id, document.file.filename, content),
        )
        self._remember(key, supplier_id, _Filed(filed.document_id, attached=True))
        return filed.document_id

    def _remember(self, key: tuple[uuid.UUID, uuid.UUID], supplier_id: str, filed: _Filed) -> None:
        if key not in self._filed and len(self._filed) >= MAX_FILED:
            self._filed.clear()  # entries refused for good leave theirs behind
        self._filed.setdefault(key, {})[supplier_id] = filed

    async def _find_filed(self, ctx: Context, document: DocumentSnapshot) -> None:
        """After an unknown outcome or an earlier try: the Exact documents it filed (our
        marker in the Subject), so the push that follows reuses one instead of filing
        again. Two calls, on this path only; the normal push makes none."""
        division = ctx.settings.division
        ours = marker(document.id)
        rows = await self._client.results(
            ctx.integration.id,
            division,
            "documents/Documents",
            {
                "$filter": f"substringof({mapping.odata_string(ours)},Subject) eq true and "
                f"Type eq {mapping.PURCHASE_INVOICE_DOCUMENT}",
                "$select": "ID,Account,Subject,FinancialTransactionEntryID",
            },
        )
        found: dict[str, _Filed] = {}
        for row in rows:
            if marker_in(row.get("Subject")) != ours or not row.get("Account"):
                continue
            if row.get("FinancialTransactionEntryID"):  # an entry's already: never shared
                continue
            attachments = await self._client.results(
                ctx.integration.id,
                division,
                "documents/DocumentAttachments",
                {"$filter": f"Document eq guid'{row['ID']}'", "$select": "ID"},
            )
            filed = _Filed(str(row["ID"]), attached=bool(attachments))
            current = found.get(str(row["Account"]))
            if current is None or (filed.attached and not current.attached):
                found[str(row["Account"])] = filed
        for supplier_id, filed in found.items():
            self._remember((ctx.integration.id, document.id), supplier_id, filed)

    async def find_by_reference(self, ctx: Context, document: DocumentSnapshot) -> Booking | None:
        """The entry of our journal with our reference that is provably ours (the shared
        adoption rule); YourRef alone repeats across years and entries typed by hand."""
        division = ctx.settings.division
        journal = _journal(ctx, document)
        party = "Supplier" if mapping.is_purchase(document) else "Customer"
        rows = await self._client.results(
            ctx.integration.id,
            division,
            _entries(document),
            {
                "$filter": f"YourRef eq {mapping.odata_string(ctx.reference)} and "
                f"Journal eq {mapping.odata_string(journal)}",
                "$select": f"EntryID,EntryNumber,YourRef,Description,EntryDate,AmountFC,{party}",
            },
        )
        link = await _links(ctx, document).find(document.customer.external_id)
        candidates = [
            Candidate(
                remote_id=str(row["EntryID"]),
                booking_number=str(row["EntryNumber"]),
                label=f"entry {row['EntryNumber']} of journal {journal}",
                marker=marker_in(row.get("Description")),
                date=mapping.odata_date(row.get("EntryDate")),
                total=mapping.signed_total(row.get("AmountFC"), document.kind),
                customer=str(row[party]) if row.get(party) else None,
            )
            for row in rows
        ]
        found = adopt(candidates, document, system=EXACT, customer=link.remote_id if link else None)
        if found is not None:  # adopted: no push follows that would drop the filed document
            self._filed.pop((ctx.integration.id, document.id), None)
        elif mapping.is_purchase(document) and document.file is not None:
            await self._find_filed(ctx, document)
        return found

    async def verify(self, integration: Integration, settings: ExactSettings) -> dict[str, Any]:
        """The division is reachable and both journals exist there as sales journals."""
        division = settings.division
        journals = await self._client.results(
            integration.id, division, "financial/Journals", {"$select": "Code,Description,Type"}
        )
        codes = {str(j["Code"]).strip(): j for j in journals}
        wanted = {
            "sales_journal": settings.sales_journal,
            "credit_note_journal": settings.credit_note_journal,
        }
        missing = [f"{name} {code!r}" for name, code in wanted.items() if code not in codes]
        if missing:
            raise PermanentError(
                "journal_missing",
                f"Exact division {division} has no journal {', '.join(missing)}; "
                f"its journals are {', '.join(sorted(codes)) or 'none'}.",
            )
        return {"division": division, "journals": sorted(codes)}

    async def preview(self, ctx: Context, document: DocumentSnapshot) -> PreviewAnswer:
        """The SalesEntry as ``push`` would post it, from the same lookups (lists kept per
        division as a push keeps them); read-only. A customer it would create has no ID
        yet: ``Customer`` is then null and the account it would post is shown instead."""
        division = ctx.settings.division
        problems: list[PreviewProblem] = []
        journal = _journal(ctx, document)
        if (missing := await self._journal_problem(ctx, division, journal, document)) is not None:
            problems.append(missing)
        purchase = mapping.is_purchase(document)
        customer = await self._preview_customer(ctx, division, document, problems)
        gl_accounts: list[str] = []
        vat_codes: list[str] = []
        for number, line in enumerate(document.lines):
            try:
                gl_accounts.append(
                    await self._gl_account(ctx, division, line.gl_account, purchase=purchase)
                )
            except PermanentError as exc:
                gl_accounts.append("")
                problems.append(PreviewProblem.of(exc, f"lines.{number}.gl_account"))
            try:
                vat_codes.append(
                    await self._vat_code(ctx, division, line.vat_rate, purchase=purchase)
                )
            except PermanentError as exc:
                vat_codes.append("")
                problems.append(PreviewProblem.of(exc, f"lines.{number}.vat_rate"))
        payload = mapping.entry_payload(
            document,
            reference=ctx.reference,
            journal=journal,
            party_id=customer.remote_id or "",
            gl_account_ids=gl_accounts,
            vat_codes=vat_codes,
        )
        payload["Supplier" if purchase else "Customer"] = customer.remote_id
        for line in payload[mapping.lines_key(document)]:  # a problem names what is missing
            line["GLAccount"] = line["GLAccount"] or None
            line["VATCode"] = line["VATCode"] or None
        return PreviewAnswer(payload, customer, problems)

    async def _journal_problem(
        self, ctx: Context, division: int, journal: str, document: DocumentSnapshot
    ) -> PreviewProblem | None:
        async def load() -> dict[str, str]:
            rows = await self._client.results(
                ctx.integration.id, division, "financial/Journals", {"$select": "Code,Description"}
            )
            return {str(r["Code"]).strip(): str(r.get("Description") or "") for r in rows}

        found, journals = await self._journals.find(division, journal, load)
        if found is not None:
            return None
        self._journals.forget(division)
        setting = _journal_setting(document)
        return PreviewProblem(
            "purchase_journal_missing" if mapping.is_purchase(document) else "journal_missing",
            f"settings.{setting}",
            f"Exact division {division} has no journal {journal!r} (its journals: "
            f"{', '.join(sorted(journals)) or 'none'}); add it in Exact or set another "
            f"{setting} with PATCH /v1/integrations/{ctx.integration.id}.",
        )

    async def _preview_customer(
        self,
        ctx: Context,
        division: int,
        document: DocumentSnapshot,
        problems: list[PreviewProblem],
    ) -> PreviewCustomer:
        """The stored link, else the account ``_customer`` would match, else the one it
        would create; nothing is linked or created. A linked account is read once: it may
        have been blocked in Exact since it was linked, and the push would then be refused."""
        customer, supplier = document.customer, mapping.is_purchase(document)
        if link := await _links(ctx, document).find(customer.external_id):
            rows = await self._client.results(
                ctx.integration.id,
                division,
                "crm/Accounts",
                {
                    "$filter": f"ID eq guid'{link.remote_id}'",
                    "$select": "ID,Code,Name,Blocked",
                    "$top": "1",
                },
            )
            if rows:
                try:
                    _usable(customer, rows[0], supplier)
                except PermanentError as exc:
                    problems.append(PreviewProblem.of(exc, _party_field(supplier)))
            return PreviewCustomer("linked", link.remote_id, link.code)
        account, code_taken = await self._match(ctx, division, customer, supplier)
        if account is not None:
            try:
                found = _usable(customer, account, supplier)
            except PermanentError as exc:
                problems.append(PreviewProblem.of(exc, _party_field(supplier)))
                found = RemoteCustomer(str(account["ID"]), str(account.get("Code") or ""))
            return PreviewCustomer("matched", found.remote_id, (found.code or "").strip() or None)
        payload = mapping.account_payload(customer, supplier=supplier, with_code=not code_taken)
        return PreviewCustomer("would_create", payload=payload)

    async def _match(
        self, ctx: Context, division: int, customer: CustomerData, supplier: bool
    ) -> tuple[dict[str, Any] | None, bool]:
        """The account the filters find first, and whether our customer's code is held
        by an account that is not this customer's: no customer (a supplier Exact numbered
        with our customer's id), one whose Remarks say we made it for another relation, or
        one linked to another of ours (Exact numbered it because its own code was taken).
        Only the code filter asks every account."""
        code_taken = False
        for index, odata_filter in enumerate(mapping.account_filters(customer, supplier=supplier)):
            rows = await self._client.results(
                ctx.integration.id,
                division,
                "crm/Accounts",
                {"$filter": odata_filter, "$select": mapping.ACCOUNT_FIELDS, "$top": "1"},
            )
            if not rows:
                continue
            by_code = index == 0 and mapping.matches_by_code(customer, supplier=supplier)
            if by_code and await self._code_held_by_another(ctx, rows[0], customer):
                code_taken = True
                continue
            return rows[0], code_taken
        return None, code_taken

    async def _code_held_by_another(
        self, ctx: Context, account: dict[str, Any], customer: CustomerData
    ) -> bool:
        """No customer, made by us for another relation (its Remarks), or linked to
        another of ours (an account made before the Remarks said whose it is)."""
        if not mapping.is_customer(account) or mapping.made_for_another(account, customer):
            return True
        remote_id = str(account["ID"])
        return (
            await ctx.customers.holder(remote_id) is not None
            or await ctx.suppliers.holder(remote_id) is not None
        )

    async def _customer(
        self, ctx: Context, division: int, customer: CustomerData, supplier: bool = False
    ) -> tuple[str, bool]:
        """Stored link → Code → VAT number → Chamber of Commerce → name (among customers);
        else create. A supplier (a purchase document's counterparty) the same way through
        its own links (``ctx.suppliers``) among Exact's supplier accounts."""

        async def match_or_create() -> tuple[RemoteCustomer, bool]:
            account, code_taken = await self._match(ctx, division, customer, supplier)
            if account is not None:
                return _usable(customer, account, supplier), False
            body = await self._client.post(
                ctx.integration.id,
                division,
                "crm/Accounts",
                mapping.account_payload(customer, supplier=supplier, with_code=not code_taken),
            )
            return _usable(customer, body["d"], supplier), True

        links = ctx.suppliers if supplier else ctx.customers
        remote, created = await links.resolve(customer.external_id, match_or_create)
        return remote.remote_id, created

    async def _gl_account(
        self, ctx: Context, division: int, code: str | None, *, purchase: bool = False
    ) -> str:
        """A revenue account for a sales line, a cost account for a purchase line; a
        purchase line without a code takes the first cost account Exact lists."""
        types = COSTS if purchase else (REVENUE,)
        lists = self._cost_accounts if purchase else self._gl_accounts

        async def load() -> dict[str, str]:
            rows = await self._client.results(
                ctx.integration.id,
                division,
                "financial/GLAccounts",
                {
                    "$filter": " or ".join(f"Type eq {t}" for t in types),
                    "$select": "ID,Code,Type",
                },
            )
            return {str(r["Code"]).strip(): str(r["ID"]) for r in rows}

        default = None if purchase else ctx.settings.default_gl_account or "8000"
        wanted = code or default or ""
        found, accounts = await lists.find(
            division, wanted, load, read_since=ctx.integration.resumed_at
        )
        if found is not None:
            return found
        # Without a code of its own a line falls back to the first account: no miss to fix.
        if code is None and accounts:
            return next(iter(accounts.values()))
        lists.forget(division)  # the retry after the fix reads it again
        raise PermanentError(
            "gl_account_missing",
            f"Exact division {division} has no {'cost' if purchase else 'revenue'} GL "
            f"account {wanted!r}.",
        )

    async def _vat_code(
        self, ctx: Context, division: int, rate: Decimal, *, purchase: bool = False
    ) -> str:
        """An unblocked code of the line's rate that Exact lets this side use
        (VATTransactionType S sales, P purchase, B both). Our amounts are net, so a code
        including VAT (Type B) is never taken: Exact would read the amount as gross."""
        side = PURCHASE_SIDE if purchase else SALES_SIDE

        async def load() -> dict[tuple[Decimal, str], str]:
            rows = await self._client.results(
                ctx.integration.id,
                division,
                "vat/VATCodes",
                {"$select": "Code,Percentage,Type,VATTransactionType,IsBlocked"},
            )
            codes: dict[tuple[Decimal, str], str] = {}
            for row in sorted(rows, key=lambda r: str(r["Code"])):
                if row.get("IsBlocked") or row.get("Type") == INCLUDING:
                    continue
                percentage = Decimal(str(row["Percentage"])).quantize(Decimal("0.0001"))
                usable = str(row.get("VATTransactionType") or BOTH)
                for one in (SALES_SIDE, PURCHASE_SIDE):
                    if usable in (one, BOTH):
                        codes.setdefault((percentage, one), str(row["Code"]))
            return codes

        key = (mapping.vat_percentage(rate), side)
        code, _ = await self._vat_codes.find(
            division, key, load, read_since=ctx.integration.resumed_at
        )
        if code is None:
            self._vat_codes.forget(division)  # the retry after the fix reads it again
            raise PermanentError(
                "unknown_vat_code",
                f"Exact division {division} has no VAT code for {rate} % that "
                f"{'purchases' if purchase else 'sales'} may use (unblocked, excluding VAT); "
                "add one in Exact.",
            )
        return code


def _journal_setting(document: DocumentSnapshot) -> str:
    if mapping.is_purchase(document):
        return "purchase_journal"
    return "credit_note_journal" if document.kind == "credit_note" else "sales_journal"


def _journal(ctx: Context, document: DocumentSnapshot) -> str:
    return str(getattr(ctx.settings, _journal_setting(document)))


def _entries(document: DocumentSnapshot) -> str:
    if mapping.is_purchase(document):
        return "purchaseentry/PurchaseEntries"
    return "salesentry/SalesEntries"


def _links(ctx: Context, document: DocumentSnapshot) -> CustomerLinks:
    return ctx.suppliers if mapping.is_purchase(document) else ctx.customers


def _party_field(supplier: bool) -> str:
    """The document's field naming its party, as the API takes it."""
    return "supplier" if supplier else "customer"


def _usable(
    customer: CustomerData, account: dict[str, Any], supplier: bool = False
) -> RemoteCustomer:
    """The account to link, unless Exact has it blocked."""
    if account.get("Blocked"):
        raise PermanentError(
            "supplier_blocked" if supplier else "customer_blocked",
            f"The {'supplier' if supplier else 'customer'} {customer.name!r} is blocked in "
            "Exact Online.",
        )
    return RemoteCustomer(str(account["ID"]), str(account.get("Code") or "").strip() or None)
