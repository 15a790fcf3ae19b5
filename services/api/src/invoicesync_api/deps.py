"""Request dependencies: the transaction, the calling partner and its key's scopes, the
admin."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from invoicesync_api.api_keys import repository as api_keys
from invoicesync_api.api_keys.scopes import Scope
from invoicesync_api.api_keys.service import hash_key
from invoicesync_api.errors.exceptions import Forbidden, Unauthorized
from invoicesync_api.i18n.catalog import N_
from invoicesync_api.i18n.middleware import language_of, use_partner_default
from invoicesync_api.settings import ApiSettings
from invoicesync_shared import clock
from invoicesync_shared.crypto import SecretBox
from invoicesync_shared.db.engine import autocommit

bearer = HTTPBearer(auto_error=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The edge owns the transaction: commit when the route returns, else roll back.

    Function scope: the commit happens before the response is sent, so a 201 is only
    ever sent for what is stored. A route may commit early (before calling a connector)
    and go on in a new transaction.
    """
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_box(request: Request) -> SecretBox:
    """The app's ``SecretBox``: credentials at rest, webhook secrets, console sessions."""
    box: SecretBox = request.app.state.box
    return box


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
BoxDep = Annotated[SecretBox, Depends(get_box)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True)
class Caller:
    partner_id: uuid.UUID
    key_id: uuid.UUID
    scopes: frozenset[str]


async def get_caller(request: Request, credentials: BearerDep) -> Caller:
    """The key is looked up outside the request's transaction: the route's session takes
    its connection only when the route needs it, so a request never holds two at once."""
    if credentials is None:
        raise Unauthorized(N_("Send your API key as 'Authorization: Bearer <key>'."))
    return await authenticate(request, credentials.credentials)


async def authenticate(request: Request, api_key: str) -> Caller:
    """The key's partner and scopes, or ``Unauthorized`` / ``TooManyRequests``: the one
    check behind the bearer header and the console's session alike."""
    # One statement: the key, its rate limit and the address's failed attempts (rate_limits).
    key = await request.app.state.rate_limits.admit(request, hash_key(api_key))
    use_partner_default(request.scope, key.language)
    now = clock.now()
    if api_keys.is_use_unnoted(key, now):  # at most once a minute per key
        async with autocommit(request.app.state.engine) as connection:
            await api_keys.note_use(connection, key.id, now)
    return Caller(partner_id=key.partner_id, key_id=key.id, scopes=frozenset(key.scopes))


async def require_admin(settings: SettingsDep, credentials: BearerDep) -> None:
    expected = settings.admin_token.get_secret_value()
    given = credentials.credentials if credentials else ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(N_("This call needs the admin token."))


CallerDep = Annotated[Caller, Depends(get_caller)]


async def get_language(request: Request, caller: CallerDep) -> str:
    """The language of the answer: ``Accept-Language``, else the caller's partner's.
    Async though it awaits nothing: FastAPI runs a plain function in a worker thread,
    a thread hop on every request."""
    return language_of(request.scope)


LanguageDep = Annotated[str, Depends(get_language)]
AdminDep = Depends(require_admin)


class RequiredScope:
    """The one scope a route needs. Declared in the route's ``dependencies``, so it runs
    before the route looks anything up: a 403 says what the key lacks, never whether an
    id exists (a foreign id still answers 404 to a key that holds the scope)."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, caller: CallerDep) -> None:
        if self.scope not in caller.scopes:
            raise Forbidden(self.scope)


NeedsRead = Depends(RequiredScope(Scope.READ))
NeedsWrite = Depends(RequiredScope(Scope.WRITE))
NeedsAdmin = Depends(RequiredScope(Scope.ADMIN))
