"""The request's language, chosen once and named on the answer (``Content-Language``).

The header is read before anything else runs, so even an answer given by middleware (a
413, a 429) is in the reader's language; a request without a language we speak takes the
partner's default once its key is known (``deps.get_caller`` calls ``use_partner_default``).
Plain ASGI: no extra task per request.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from invoicesync_api.i18n.languages import DEFAULT, negotiate, supported

ASKED = "language_asked"
CHOSEN = "language"


def _state(scope: MutableMapping[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def language_of(scope: MutableMapping[str, Any]) -> str:
    """The language of the request's answer (English when nothing chose another)."""
    state = _state(scope)
    if CHOSEN not in state:  # an answer before the middleware ran (tests, mounts)
        state[CHOSEN] = negotiate(Headers(scope=scope).get("accept-language")) or DEFAULT
        state[ASKED] = state[CHOSEN] != DEFAULT
    chosen: str = state[CHOSEN]
    return chosen


def use_partner_default(scope: MutableMapping[str, Any], language: str | None) -> None:
    """The partner's default, unless the request asked for a language we speak."""
    state = _state(scope)
    language_of(scope)
    if not state[ASKED] and supported(language):
        state[CHOSEN] = language


class Languages:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = negotiate(Headers(scope=scope).get("accept-language"))
        state = _state(scope)
        state[CHOSEN], state[ASKED] = asked or DEFAULT, asked is not None

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Content-Language", state[CHOSEN])
            await send(message)

        await self.app(scope, receive, send_with_language)
