"""The Exact Online emulator: wires the store, OAuth host, REST dispatcher and controls
into the sandbox's ``Emulator`` seam (served under ``/exact`` and ``/_sandbox/exact``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter

from invoicesync_sandbox.context import SandboxContext
from invoicesync_sandbox.exact.accounts import Accounts
from invoicesync_sandbox.exact.api import ExactApi
from invoicesync_sandbox.exact.control import ExactControl, app_credentials
from invoicesync_sandbox.exact.dates import from_epoch
from invoicesync_sandbox.exact.divisions import HrmDivisions, SystemDivisions
from invoicesync_sandbox.exact.documents import DocumentAttachments, Documents, DocumentTypes
from invoicesync_sandbox.exact.masterdata import GLAccounts, Journals, Me, VATCodes
from invoicesync_sandbox.exact.models import App
from invoicesync_sandbox.exact.oauth import OAuthHost
from invoicesync_sandbox.exact.payments import Payments
from invoicesync_sandbox.exact.purchase_entries import PurchaseEntries, PurchaseEntryLines
from invoicesync_sandbox.exact.receivables import Receivables, ReceivablesList
from invoicesync_sandbox.exact.sales_entries import SalesEntries, SalesEntryLines
from invoicesync_sandbox.exact.seed import (
    CREDIT_NOTE_JOURNAL,
    PURCHASE_JOURNAL,
    SALES_JOURNAL,
    seed_suppliers,
)
from invoicesync_sandbox.exact.store import ExactStore
from invoicesync_sandbox.exact.tokens import TokenService

DEMO_DIVISION = 1234567
TEST_APP = App(
    client_id="exact-test-app",
    client_secret="exact-test-app-secret",
    redirect_uri="http://127.0.0.1:8765/callback",
    name="Sandbox test app",
)


class ExactEmulator:
    system = "exact"

    def __init__(self, ctx: SandboxContext) -> None:
        settings = ctx.settings
        self.ctx = ctx
        self.store = ExactStore(settings.exact_minutely_limit, settings.exact_daily_limit)
        self.store.register_app(
            App(
                client_id=settings.exact_client_id,
                client_secret=settings.exact_client_secret,
                redirect_uri=settings.redirect_uri,
                name="invoicesync",
            )
        )
        self.tokens = TokenService(self.store, ctx.clock)
        self.api = ExactApi(self.store, self.tokens, ctx.clock)
        divisions = self.store.divisions
        for resource in (
            Me(),
            SystemDivisions(divisions),
            SystemDivisions(divisions, "system/AllDivisions"),
            HrmDivisions(divisions),
            Journals(),
            GLAccounts(),
            VATCodes(),
            Accounts(),
            SalesEntries(),
            SalesEntryLines(),
            ReceivablesList(),
            Receivables(),
            PurchaseEntries(),
            PurchaseEntryLines(),
            Payments(),
            Documents(),
            DocumentAttachments(),
            DocumentTypes(),
        ):
            self.api.add(resource)

    def router(self) -> APIRouter:
        router = APIRouter(tags=["exact"])
        router.include_router(
            OAuthHost(self.store, self.tokens, self.ctx.settings.auto_approve).router()
        )
        router.include_router(self.api.router())
        return router

    def control_router(self) -> APIRouter:
        return ExactControl(self.store, self.tokens, self.ctx.clock).router()

    def seed_demo(self) -> dict[str, Any]:
        if DEMO_DIVISION not in self.store.divisions:
            demo = self.store.create_division(DEMO_DIVISION, "Demo company")
            seed_suppliers(demo, from_epoch(self.ctx.clock.now()))
        app = self.store.register_app(replace(TEST_APP))
        return {
            "division": DEMO_DIVISION,
            "sales_journal": SALES_JOURNAL,
            "credit_note_journal": CREDIT_NOTE_JOURNAL,
            "purchase_journal": PURCHASE_JOURNAL,
            "test_app": app_credentials(app),
        }
