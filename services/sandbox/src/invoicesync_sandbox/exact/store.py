"""All state of the Exact emulator, in memory, behind one asyncio lock.

One process serves the sandbox, so a single lock around each request's read-modify-write
keeps concurrent calls (numbering, token rotation, counters) consistent.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, field

from invoicesync_sandbox.exact.models import App, AuthCode, Division, TokenChain, User
from invoicesync_sandbox.exact.rate_limit import ErrorBlocker, RateLimiter
from invoicesync_sandbox.exact.seed import seed_division


@dataclass
class Tokens:
    """Token chains and the indexes that find a chain from any token it ever issued."""

    chains: dict[uuid.UUID, TokenChain] = field(default_factory=dict)
    by_access: dict[str, uuid.UUID] = field(default_factory=dict)  # newest access tokens
    by_refresh: dict[str, uuid.UUID] = field(default_factory=dict)  # newest refresh tokens
    stale_access: dict[str, uuid.UUID] = field(default_factory=dict)
    stale_refresh: dict[str, uuid.UUID] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    # The newest code issued to each app for each user: an older one no longer starts a
    # chain (overlapping authorisations).
    newest_code: dict[tuple[str, uuid.UUID], str] = field(default_factory=dict)

    def add(self, chain: TokenChain) -> None:
        self.chains[chain.chain_id] = chain
        self.by_access[chain.access_token] = chain.chain_id
        self.by_refresh[chain.refresh_token] = chain.chain_id

    def rotate(self, chain: TokenChain, access: str, refresh: str) -> None:
        """Retire the chain's current pair; only the new one is valid from now on."""
        self.by_access.pop(chain.access_token, None)
        self.by_refresh.pop(chain.refresh_token, None)
        self.stale_access[chain.access_token] = chain.chain_id
        self.stale_refresh[chain.refresh_token] = chain.chain_id
        chain.access_token, chain.refresh_token = access, refresh
        self.by_access[access] = chain.chain_id
        self.by_refresh[refresh] = chain.chain_id

    def chain_of(self, token: str) -> TokenChain | None:
        """The chain that issued ``token`` (access or refresh, current or stale)."""
        for index in (self.by_access, self.by_refresh, self.stale_access, self.stale_refresh):
            if token in index:
                return self.chains[index[token]]
        return None


class ExactStore:
    """Apps, users, divisions, tokens and the limiters; mutate only while holding ``lock``."""

    def __init__(self, minutely_limit: int, daily_limit: int) -> None:
        self.lock = asyncio.Lock()
        self.apps: dict[str, App] = {}
        self.users: dict[uuid.UUID, User] = {}
        self.divisions: dict[int, Division] = {}
        self.tokens = Tokens()
        self.limiter = RateLimiter(minutely_limit, daily_limit)
        self.blocker = ErrorBlocker()
        # 429s served per division (rate limits and error blocks): a client that stays
        # inside the budgets keeps this at zero.
        self.rate_limited: dict[int, int] = {}
        # New divisions are numbered from a base of this process's own: as in Exact, a
        # division number names one company, so two sandboxes (a test's and another test's
        # stack) never hand out the same number for different companies to one database
        # (the connectors key their per-division state, e.g. the error brake, by it).
        self._division_base = 2_000_000 + secrets.randbelow(7_000_000)
        self.default_user = self._add_default_user()

    def _add_default_user(self) -> User:
        user = User(
            user_id=uuid.uuid5(uuid.NAMESPACE_URL, "invoicesync-sandbox/exact/demo-user"),
            user_name="demo@example.com",
            full_name="Demo User",
            email="demo@example.com",
            divisions=[],
            current_division=0,
        )
        self.users[user.user_id] = user
        return user

    def register_app(self, app: App) -> App:
        self.apps[app.client_id] = app
        return app

    def create_division(self, code: int, description: str, grant: bool = True) -> Division:
        division = Division(code=code, description=description, customer_name=description)
        seed_division(division)
        self.divisions[code] = division
        if grant:
            self.grant(self.default_user, code)
        return division

    def next_division_code(self) -> int:
        return max([*self.divisions, self._division_base]) + 1

    def grant(self, user: User, code: int) -> None:
        if code not in user.divisions:
            user.divisions.append(code)
        if not user.current_division:
            user.current_division = code

    def revoke(self, user: User, code: int) -> None:
        if code in user.divisions:
            user.divisions.remove(code)
        if user.current_division == code:
            user.current_division = user.divisions[0] if user.divisions else 0
