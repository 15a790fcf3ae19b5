"""Yuki: invoices and credit notes through Sales.asmx ProcessSalesInvoices, in batches.

Contacts are matched (or created) by Yuki itself on ContactCode; an edit is the same
Reference sent again, which Yuki applies to the booked document.

Stock Yuki's import answer carries no identifiers, so each booked document is read back
by our Reference: the documents of a batch share one OutstandingDebtorItemsByDate call
(lookup.py), and only one that list cannot prove is looked up on its own. The booking
is Yuki's DocumentID with, as booking number, the invoice number Yuki holds on the item
(our Reference: what a bookkeeper searches for in Yuki; stock Yuki publishes no other).

Purchase documents go one by one into the administration's archive (purchases.py): the
file, for Yuki to process into a booking; the answer is the archive document's ID.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from connector_yuki import archive, documents, errors, reconciliation
from connector_yuki.batching import BatchKey, PendingInvoice, SalesInvoiceBatcher
from connector_yuki.lookup import YUKI, BatchLookup, candidates
from connector_yuki.purchases import PurchaseArchive
from connector_yuki.sessions import SessionPool
from connector_yuki.soap import YukiSoap
from invoicesync_shared.connectors.adoption import adopt
from invoicesync_shared.connectors.errors import (
    AmbiguousMatch,
    AuthorizationLost,
    PermanentError,
)
from invoicesync_shared.connectors.ledger import Ledger
from invoicesync_shared.connectors.preview import PreviewAnswer, PreviewCustomer, PreviewProblem
from invoicesync_shared.connectors.protocol import Booking, PushContext
from invoicesync_shared.connectors.reconciliation import Period
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.models import Integration
from invoicesync_shared.events.documents import PURCHASE_KINDS, SALES_KINDS, DocumentSnapshot
from invoicesync_shared.events.reconciliations import RemoteEntry
from invoicesync_shared.integration_settings import YukiSettings

Context = PushContext[YukiSettings]


class YukiConnector:
    system = "yuki"
    settings_model = YukiSettings
    kinds = SALES_KINDS | PURCHASE_KINDS
    file_limits = archive.FILE_LIMITS

    def __init__(
        self,
        soap: YukiSoap,
        sessions: SessionPool,
        batcher: SalesInvoiceBatcher,
        lookup: BatchLookup,
        secrets: SecretBox,
    ) -> None:
        self._soap = soap
        self._sessions = sessions
        self._batcher = batcher
        self._lookup = lookup
        self._secrets = secrets
        self._purchases = PurchaseArchive(soap, sessions)

    @property
    def batcher(self) -> SalesInvoiceBatcher:
        """Its calls' batcher, which the process lets follow the consumer's backlog."""
        return self._batcher

    def scope(self, integration: Integration, settings: YukiSettings) -> str:
        return _administration_id(settings)

    def read_entries(
        self,
        integration: Integration,
        settings: YukiSettings,
        period: Period,
        ledger: Ledger,
        detailed: bool = False,
    ) -> AsyncIterator[list[RemoteEntry]]:
        """The period's items, normalised (connector_yuki.reconciliation); Yuki has no
        net or VAT per rate to give, so ``detailed`` changes nothing."""
        return reconciliation.read_entries(self, integration, period, ledger)

    async def push(self, ctx: Context, document: DocumentSnapshot) -> Booking:
        """Book (or, sent again with the same Reference, update) the document."""
        if document.kind in PURCHASE_KINDS:
            return await self._push_purchase(ctx, document)
        xml = documents.sales_invoice(
            document,
            reference=ctx.reference,
            default_gl_account=ctx.settings.default_gl_account,
        )
        key = self._key(ctx.integration, ctx.settings)
        result = await self._batcher.submit(key, PendingInvoice(ctx.reference, xml))
        if (refusal := errors.classify_result(result)) is not None:
            raise refusal
        if result.document_id:
            return Booking(result.document_id, result.booking_number or None)
        # Stock Yuki answers without identifiers: read them back by our reference.
        try:
            found = await self._find(key, ctx.reference, document)
        except AmbiguousMatch:
            found = None  # booked all the same; the identifiers stay unknown
        return found or ctx.previous or Booking(ctx.reference, None)

    async def _push_purchase(self, ctx: Context, document: DocumentSnapshot) -> Booking:
        """Upload the file into the archive. Yuki's archive takes no edit of an upload, so
        an edit of a document already sent keeps what was sent (README: Yuki)."""
        if ctx.is_update and ctx.previous is not None:
            return ctx.previous
        if document.file is None:
            raise archive.no_file()
        data = await ctx.files.read(document.file)
        upload = archive.upload_for(document, ctx.reference, data)
        return await self._purchases.upload(self._key(ctx.integration, ctx.settings), upload)

    async def preview(self, ctx: Context, document: DocumentSnapshot) -> PreviewAnswer:
        """The ``<SalesInvoice>`` as ``push`` would send it, and whether the access key
        still reaches the administration (one read-only call). Yuki matches or creates
        the contact itself inside the invoice call, on ContactCode, so which it will do is
        not known in advance (``system_matches``)."""
        problems: list[PreviewProblem] = []
        try:
            await self.verify(ctx.integration, ctx.settings)
        except PermanentError as exc:
            problems.append(PreviewProblem.of(exc, "settings.access_key"))
        if document.kind in PURCHASE_KINDS:
            return await self._preview_purchase(ctx, document, problems)
        for number, line in enumerate(document.lines):
            try:
                documents.vat_type(line.vat_rate)
            except PermanentError as exc:
                problems.append(PreviewProblem.of(exc, f"lines.{number}.vat_rate"))
        payload: str | None = None
        try:
            xml = documents.sales_invoice(
                document,
                reference=ctx.reference,
                default_gl_account=ctx.settings.default_gl_account,
            )
            payload = xml.decode()
        except PermanentError as exc:
            if exc.code != "unknown_vat_code":  # named per line above
                problems.append(
                    PreviewProblem.of(exc, "number" if "reference" in exc.code else None)
                )
        code = document.customer.external_id
        customer = PreviewCustomer(
            "system_matches", code=code if len(code) <= documents.MAX_REFERENCE else None
        )
        return PreviewAnswer(payload, customer, problems)

    async def _preview_purchase(
        self, ctx: Context, document: DocumentSnapshot, problems: list[PreviewProblem]
    ) -> PreviewAnswer:
        """The upload's fields (not the bytes: none is read) and its folder; Yuki reads
        the supplier from the file when it processes it (``system_matches``)."""
        payload: dict[str, Any] | None = None
        try:
            upload = archive.upload_for(document, ctx.reference, b"")
            folder = await self._purchases.folder(self._key(ctx.integration, ctx.settings))
            payload = {
                "operation": "UploadDocumentWithData",
                "fileName": upload.file_name,
                "folder": folder,
                "currency": upload.currency,
                "amount": str(upload.amount),
                "paymentMethod": upload.payment_method,
                "remarks": upload.remarks,
                "size": document.file.size if document.file else 0,
            }
        except PermanentError as exc:
            problems.append(PreviewProblem.of(exc, "file"))
        return PreviewAnswer(payload, PreviewCustomer("system_matches"), problems)

    async def find_by_reference(self, ctx: Context, document: DocumentSnapshot) -> Booking | None:
        if document.kind in PURCHASE_KINDS:
            return await self._purchases.find(self._key(ctx.integration, ctx.settings), document)
        return await self._find(self._key(ctx.integration, ctx.settings), ctx.reference, document)

    async def verify(self, integration: Integration, settings: YukiSettings) -> dict[str, Any]:
        """The access key works and reaches the administration; raises ``PermanentError``
        (``invalid_access_key``, ``administration_not_found``) with what to fix."""
        key = self._key(integration, settings)
        try:
            available = await self._sessions.call(key.access_key, self._soap.administrations)
        except AuthorizationLost as exc:
            # Checking a key is not losing a connection: say what to fix, as on connect.
            raise PermanentError("invalid_access_key", errors.INVALID_ACCESS_KEY) from exc
        name = available.get(key.administration_id)
        if name is None:
            names = ", ".join(sorted(f"{n!r} ({i})" for i, n in available.items())) or "none"
            raise PermanentError(
                "administration_not_found",
                f"The Yuki access key has no administration {key.administration_id!r}; "
                f"it can reach: {names}.",
            )
        return {"administration_id": key.administration_id, "administration_name": name}

    async def _find(
        self, key: BatchKey, reference: str, document: DocumentSnapshot
    ) -> Booking | None:
        """The booked item with our Reference that is provably ours (the shared adoption
        rule): first in the open items read for the whole batch, else on its own, where
        Yuki matches the reference ignoring case, and booking numbers and document IDs
        too, so an item of another document may answer."""
        found = await self._lookup.find(key, reference, document)
        if found is not None:
            return found
        items = await self._booked_items(key, reference)
        return adopt(candidates(items, reference, document), document, system=YUKI, customer=None)

    async def archived_number(self, integration: Integration, document_id: uuid.UUID) -> str | None:
        """The booking number Yuki's processing gave the document's upload, if any yet."""
        key = self._key(integration, YukiSettings.stored(integration.settings))
        return await self._purchases.number(key, document_id)

    async def open_items(self, integration: Integration) -> list[documents.OutstandingItem]:
        """Every booked item of the integration's administration with an amount still open
        (one call, whatever the number of documents)."""
        key = self._key(integration, YukiSettings.stored(integration.settings))
        return await self._sessions.call(
            key.access_key,
            lambda session: self._soap.outstanding_debtor_items(session, key.administration_id),
        )

    async def booked_item(
        self, integration: Integration, remote_id: str
    ) -> documents.OutstandingItem | None:
        """The booked item Yuki knows by ``remote_id`` (its document ID, or our reference
        where Yuki answered without IDs), settled or not; None if none."""
        key = self._key(integration, YukiSettings.stored(integration.settings))
        items = await self._booked_items(key, remote_id)
        wanted = remote_id.casefold()
        return next(
            (i for i in items if wanted in (i.document_id.casefold(), i.reference.casefold())), None
        )

    async def _booked_items(self, key: BatchKey, search: str) -> list[documents.OutstandingItem]:
        """CheckOutstandingItemAdmin: booked items matching ``search``, settled ones too."""
        return await self._sessions.call(
            key.access_key,
            lambda session: self._soap.check_outstanding_item(
                session, key.administration_id, search
            ),
        )

    def _key(self, integration: Integration, settings: YukiSettings) -> BatchKey:
        return BatchKey(_administration_id(settings), self._access_key(integration, settings))

    def _access_key(self, integration: Integration, settings: YukiSettings) -> str:
        """The access key the API keeps encrypted with the credentials, read as part of
        the settings (``YukiSettings.access_key``)."""
        if integration.credentials is None:
            raise PermanentError("invalid_access_key", "No Yuki access key is stored.")
        unreadable = PermanentError(
            "invalid_access_key", "The stored Yuki access key cannot be read; store it again."
        )
        try:  # ValidationError is a ValueError too
            secrets = self._secrets.decrypt_json(integration.credentials)
            key = settings.with_secrets(secrets).access_key
        except ValueError as exc:
            raise unreadable from exc
        if key is None:
            raise unreadable
        return key.get_secret_value()


def _administration_id(settings: YukiSettings) -> str:
    value = settings.administration_id.strip().lower()
    if not value:
        raise PermanentError("administration_not_found", "No Yuki administration is set.")
    return value
