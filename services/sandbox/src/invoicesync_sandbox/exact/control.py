"""Test and demo controls under ``/_sandbox/exact``: divisions and their state, OAuth
apps, token chains (expire, revoke), payments, entries typed or changed by a bookkeeper,
blocked customers and the API limits.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from invoicesync_sandbox.clock import Clock
from invoicesync_sandbox.entry_page import entry_page, missing_page
from invoicesync_sandbox.exact import booking
from invoicesync_sandbox.exact.dates import from_epoch
from invoicesync_sandbox.exact.models import (
    Account,
    App,
    Division,
    GLAccount,
    Payment,
    SalesEntry,
    SalesEntryLine,
    TokenChain,
    VATCode,
)
from invoicesync_sandbox.exact.rate_limit import Block
from invoicesync_sandbox.exact.store import ExactStore
from invoicesync_sandbox.exact.tokens import TokenService
from invoicesync_sandbox.exact.views import division_state, division_summary, entry_summary


class DivisionIn(BaseModel):
    code: int | None = Field(default=None, ge=1, le=999_999_999)
    description: str = "Sandbox company"
    grant: bool = True  # give the demo user access


class AccessIn(BaseModel):
    granted: bool


class GLAccountIn(BaseModel):
    """What a bookkeeper adds in Exact when a document names a GL account it lacks."""

    code: str = Field(min_length=1, max_length=20)
    description: str
    type: int = 110  # revenue
    vat_code: str | None = None


class VATCodeIn(BaseModel):
    """What a bookkeeper adds in Exact when a document names a rate it has no code for."""

    code: str = Field(min_length=1, max_length=3)
    description: str
    percentage: Decimal = Field(ge=0, le=1)  # a fraction, as Exact stores it: 0.07
    type: Literal["B", "E", "N"] = "E"
    transaction_type: Literal["S", "P", "B"] = "B"  # VATTransactionType
    blocked: bool = False


class AppIn(BaseModel):
    redirect_uri: str
    client_id: str | None = None
    client_secret: str | None = None
    name: str = "Sandbox test app"


class ChainSelector(BaseModel):
    """Pick chains by any token they issued, by chain id, or all chains of an app."""

    token: str | None = None
    chain_id: uuid.UUID | None = None
    client_id: str | None = None


class PaymentIn(BaseModel):
    amount: Decimal | None = None  # default: the whole open amount
    paid_at: datetime | None = None


class TypedEntryIn(BaseModel):
    """A sales entry a bookkeeper types in Exact's screens: one line, an existing customer
    (by name), whatever ``your_ref`` and ``description`` they give (none of our marker
    unless they copy it)."""

    journal: str | None = None  # default: the division's first sales journal
    customer: str = Field(min_length=1)  # the account's name
    entry_date: date
    net_amount: Decimal
    vat_percentage: Decimal = Field(default=Decimal("0.21"), ge=0, le=1)  # a fraction
    your_ref: str | None = Field(default=None, max_length=30)
    description: str | None = Field(default=None, max_length=100)
    credit_note: bool = False


class EntryEditIn(BaseModel):
    """What a bookkeeper changes on a booked entry: its date, its customer (by name), or
    one line's amount excluding VAT (its VAT follows the line's percentage)."""

    entry_date: date | None = None
    customer: str | None = None
    line: int = Field(default=0, ge=0)
    net_amount: Decimal | None = None


class BlockIn(BaseModel):
    blocked: bool = True


class LimitsIn(BaseModel):
    minutely_limit: int | None = Field(default=None, ge=1)
    daily_limit: int | None = Field(default=None, ge=1)
    error_threshold: int | None = Field(default=None, ge=0)
    error_block_status: Literal[403, 429] | None = None
    token_daily_limit: int | None = Field(default=None, ge=1)
    reset_counters: bool = False


class ExactControl:
    def __init__(self, store: ExactStore, tokens: TokenService, clock: Clock) -> None:
        self.store = store
        self.tokens = tokens
        self.clock = clock

    def router(self) -> APIRouter:
        router = APIRouter(tags=["exact control"])
        add = router.add_api_route
        add("/divisions", self.create_division, methods=["POST"], status_code=201)
        add("/divisions", self.list_divisions, methods=["GET"])
        add("/divisions/{division}", self.inspect_division, methods=["GET"])
        add("/divisions/{division}/access", self.set_access, methods=["POST"])
        add("/divisions/{division}/vat-codes", self.add_vat_code, methods=["POST"], status_code=201)
        add(
            "/divisions/{division}/gl-accounts",
            self.add_gl_account,
            methods=["POST"],
            status_code=201,
        )
        add("/divisions/{division}/journals/{code}", self.delete_journal, methods=["DELETE"])
        add("/divisions/{division}/entries", self.type_entry, methods=["POST"], status_code=201)
        add("/divisions/{division}/entries/{entry_id}/edit", self.edit_entry, methods=["POST"])
        add("/divisions/{division}/entries/{entry_id}", self.show_entry, methods=["GET"])
        add("/divisions/{division}/entries/{entry_id}/payment", self.pay, methods=["POST"])
        add("/divisions/{division}/accounts/{account_id}/block", self.block, methods=["POST"])
        add("/apps", self.register_app, methods=["POST"], status_code=201)
        add("/chains", self.list_chains, methods=["GET"])
        add("/tokens/expire", self.expire_tokens, methods=["POST"])
        add("/tokens/revoke", self.revoke_tokens, methods=["POST"])
        add("/limits", self.get_limits, methods=["GET"])
        add("/limits", self.set_limits, methods=["PUT"])
        return router

    async def show_entry(self, division: int, entry_id: uuid.UUID) -> HTMLResponse:
        """The entry's page in "Exact Online" (read-only): the console's link to it."""
        title = f"Exact Online: division {division}, sales entry"
        async with self.store.lock:
            entry = self._division(division).entries.get(entry_id)
            if entry is None:
                return missing_page(title)
            shown = entry_summary(self._division(division), entry)
        return entry_page(
            f"{title} {shown['entry_number']}",
            [
                ("Entry number", shown["entry_number"]),
                ("Journal", shown["journal"]),
                ("Your reference", shown["your_ref"] or ""),
                ("Entry date", shown["entry_date"]),
                ("Amount", shown["amount"]),
                ("VAT", shown["vat_amount"]),
                ("Open", shown["open_amount"]),
            ],
        )

    async def create_division(self, body: DivisionIn) -> dict[str, Any]:
        async with self.store.lock:
            code = body.code or self.store.next_division_code()
            if code in self.store.divisions:
                raise HTTPException(409, f"Division {code} exists")
            division = self.store.create_division(code, body.description, body.grant)
            return division_summary(division)

    async def add_vat_code(self, division: int, body: VATCodeIn) -> dict[str, Any]:
        async with self.store.lock:
            target = self._division(division)
            code = body.code.ljust(3)
            if code in target.vat_codes:
                raise HTTPException(409, f"VAT code {body.code!r} exists")
            vat = VATCode(
                code,
                body.description,
                body.percentage,
                body.type,
                transaction_type=body.transaction_type,
                blocked=body.blocked,
            )
            target.vat_codes[code] = vat
            target.remember(vat.id)
        return {"id": str(vat.id), "code": code, "percentage": str(vat.percentage)}

    async def add_gl_account(self, division: int, body: GLAccountIn) -> dict[str, Any]:
        async with self.store.lock:
            target = self._division(division)
            if any(gl.code.strip() == body.code for gl in target.gl_accounts.values()):
                raise HTTPException(409, f"GL account {body.code!r} exists")
            gl = GLAccount(body.code, body.description, body.type, body.vat_code)
            target.gl_accounts[gl.id] = gl
            target.remember(gl.id)
        return {"id": str(gl.id), "code": gl.code}

    async def delete_journal(self, division: int, code: str) -> dict[str, Any]:
        """What a bookkeeper does in Exact's journal settings: a journal without entries can
        be deleted (one with entries cannot: 409)."""
        async with self.store.lock:
            target = self._division(division)
            if code not in target.journals:
                raise HTTPException(404, f"No journal {code!r} in division {division}")
            if any(entry.journal == code for entry in target.entries.values()):
                raise HTTPException(409, f"Journal {code!r} has entries; Exact keeps it")
            del target.journals[code]
        return {"division": division, "deleted": code}

    async def list_divisions(self) -> list[dict[str, Any]]:
        return [division_summary(d) for d in self.store.divisions.values()]

    async def inspect_division(self, division: int) -> dict[str, Any]:
        state = division_state(self._division(division))
        return {**state, "rate_limited": self.store.rate_limited.get(division, 0)}

    async def set_access(self, division: int, body: AccessIn) -> dict[str, Any]:
        self._division(division)
        async with self.store.lock:
            user = self.store.default_user
            if body.granted:
                self.store.grant(user, division)
            else:
                self.store.revoke(user, division)
        return {"division": division, "granted": body.granted}

    async def pay(self, division: int, entry_id: uuid.UUID, body: PaymentIn) -> dict[str, Any]:
        found = self._division(division)
        async with self.store.lock:
            entry = found.entries.get(entry_id) or found.purchase_entries.get(entry_id)
            if entry is None:
                raise HTTPException(404, f"No entry {entry_id} in division {division}")
            amount = body.amount if body.amount is not None else entry.open_amount()
            paid_at = body.paid_at or from_epoch(self.clock.now())
            entry.payments.append(Payment(amount, paid_at.replace(tzinfo=None)))
            return entry_summary(found, entry)

    async def type_entry(self, division: int, body: TypedEntryIn) -> dict[str, Any]:
        """An entry typed by hand: numbered in its journal like any other, visible at once."""
        found = self._division(division)
        async with self.store.lock:
            journal = body.journal or next(
                (j.code for j in found.journals.values() if j.type == 20), None
            )
            if journal is None or journal not in found.journals:
                raise HTTPException(404, f"No sales journal {body.journal!r}")
            customer = _account_named(found, body.customer)
            gl = next((g for g in found.gl_accounts.values() if g.type == 110), None)
            if gl is None:
                raise HTTPException(409, "The division has no revenue GL account")
            vat = _vat_code_of(found, body.vat_percentage)
            now = from_epoch(self.clock.now())
            day = datetime.combine(body.entry_date, datetime.min.time())
            sign = -1 if body.credit_note else 1
            entry = SalesEntry(
                journal=journal,
                entry_number=booking.next_entry_number(list(found.entries.values()), journal, day),
                customer=customer.id,
                entry_date=day,
                due_date=day,
                type=21 if body.credit_note else 20,
                created=now,
                modified=now,
                your_ref=body.your_ref,
                description=body.description,
                visible_from=0.0,
            )
            amount = sign * body.net_amount
            entry.lines.append(
                SalesEntryLine(
                    entry_id=entry.id,
                    line_number=1,
                    gl_account=gl.id,
                    amount_fc=amount,
                    vat_code=vat.code if vat else None,
                    vat_percentage=body.vat_percentage,
                    vat_amount_fc=_vat_of(amount, body.vat_percentage),
                    description=body.description,
                )
            )
            entry.receivable_hid = found.next_hid
            found.next_hid += 1
            found.entries[entry.id] = entry
            found.remember(entry.id)
            found.remember(entry.lines[0].id)
            return entry_summary(found, entry)

    async def edit_entry(
        self, division: int, entry_id: uuid.UUID, body: EntryEditIn
    ) -> dict[str, Any]:
        found = self._division(division)
        async with self.store.lock:
            entry = found.entries.get(entry_id)
            if entry is None:
                raise HTTPException(404, f"No entry {entry_id} in division {division}")
            if body.net_amount is not None:
                if body.line >= len(entry.lines):
                    raise HTTPException(422, f"The entry has no line {body.line}")
                line = entry.lines[body.line]
                line.amount_fc = body.net_amount
                line.vat_amount_fc = _vat_of(body.net_amount, line.vat_percentage)
            if body.customer is not None:
                entry.customer = _account_named(found, body.customer).id
            if body.entry_date is not None:
                entry.entry_date = datetime.combine(body.entry_date, datetime.min.time())
            entry.modified = from_epoch(self.clock.now())
            return entry_summary(found, entry)

    async def block(self, division: int, account_id: uuid.UUID, body: BlockIn) -> dict[str, Any]:
        found = self._division(division)
        async with self.store.lock:
            account = found.accounts.get(account_id)
            if account is None:
                raise HTTPException(404, f"No account {account_id} in division {division}")
            account.blocked = body.blocked
        return {"id": str(account.id), "code": account.code, "blocked": account.blocked}

    async def register_app(self, body: AppIn) -> dict[str, str]:
        app = App(
            client_id=body.client_id or str(uuid.uuid4()),
            client_secret=body.client_secret or secrets.token_urlsafe(24),
            redirect_uri=body.redirect_uri,
            name=body.name,
        )
        async with self.store.lock:
            self.store.register_app(app)
        return app_credentials(app)

    async def list_chains(self) -> list[dict[str, Any]]:
        return [_chain_view(c) for c in self.store.tokens.chains.values()]

    async def expire_tokens(self, body: ChainSelector) -> dict[str, int]:
        async with self.store.lock:
            chains = self._select(body)
            for chain in chains:
                self.tokens.expire(chain)
        return {"chains": len(chains)}

    async def revoke_tokens(self, body: ChainSelector) -> dict[str, int]:
        async with self.store.lock:
            chains = self._select(body)
            for chain in chains:
                self.tokens.revoke(chain)
        return {"chains": len(chains)}

    async def get_limits(self) -> dict[str, Any]:
        limiter, blocker = self.store.limiter, self.store.blocker
        return {
            "minutely_limit": limiter.minutely_limit,
            "daily_limit": limiter.daily_limit,
            "error_threshold": blocker.threshold,
            "error_block_status": blocker.status,
            "token_daily_limit": self.tokens.daily_limit,
            "blocks": [_block_view(b) for b in blocker.blocks],
        }

    async def set_limits(self, body: LimitsIn) -> dict[str, Any]:
        limiter, blocker = self.store.limiter, self.store.blocker
        async with self.store.lock:
            limiter.minutely_limit = body.minutely_limit or limiter.minutely_limit
            limiter.daily_limit = body.daily_limit or limiter.daily_limit
            if body.error_threshold is not None:
                blocker.threshold = body.error_threshold
            blocker.status = body.error_block_status or blocker.status
            self.tokens.daily_limit = body.token_daily_limit or self.tokens.daily_limit
            if body.reset_counters:
                self.tokens.reset_counters()
                limiter.usage.clear()
                blocker.clear()
                self.store.rate_limited.clear()
        return await self.get_limits()

    def _division(self, code: int) -> Division:
        division = self.store.divisions.get(code)
        if division is None:
            raise HTTPException(404, f"No division {code}")
        return division

    def _select(self, body: ChainSelector) -> list[TokenChain]:
        tokens = self.store.tokens
        if body.token:
            chain = tokens.chain_of(body.token)
            return [chain] if chain else []
        if body.chain_id:
            found = tokens.chains.get(body.chain_id)
            return [found] if found else []
        if body.client_id:
            return [c for c in tokens.chains.values() if c.client_id == body.client_id]
        raise HTTPException(422, "Give token, chain_id or client_id")


def app_credentials(app: App) -> dict[str, str]:
    return {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": app.redirect_uri,
    }


def _account_named(division: Division, name: str) -> Account:
    wanted = " ".join(name.split()).casefold()
    for account in division.accounts.values():
        if " ".join(account.name.split()).casefold() == wanted:
            return account
    raise HTTPException(404, f"No account named {name!r} in division {division.code}")


def _vat_code_of(division: Division, percentage: Decimal) -> VATCode | None:
    """The code a bookkeeper picks for a rate: an excluding one where there is."""
    found = [v for v in division.vat_codes.values() if v.percentage == percentage]
    return min(found, key=lambda v: v.type != "E", default=None)


def _vat_of(amount: Decimal, percentage: Decimal) -> Decimal:
    return (amount * percentage).quantize(booking.CENT, ROUND_HALF_UP)


def _chain_view(chain: TokenChain) -> dict[str, Any]:
    return {
        "chain_id": str(chain.chain_id),
        "client_id": chain.client_id,
        "user_id": str(chain.user_id),
        "issued_at": chain.issued_at,
        "access_expires_at": chain.access_expires_at,
        "refresh_expires_at": chain.refresh_expires_at,
        "revoked": chain.revoked,
    }


def _block_view(block: Block) -> dict[str, Any]:
    client_id, division, endpoint = block.key
    return {
        "client_id": client_id,
        "division": division,
        "endpoint": endpoint,
        "at": from_epoch(block.at).isoformat(),
        "until": from_epoch(block.until).isoformat(),
        "errors": [
            {"at": from_epoch(e.at).isoformat(), "status": e.status, "call": e.call}
            for e in block.errors
        ],
    }
