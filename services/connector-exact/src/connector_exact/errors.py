"""The one place that reads Exact's status codes and error bodies.

401 and 403 mean different things here. A 401 is an access token Exact no longer takes
(expired after its ten minutes): the shared client refreshes once and calls again, and a
refreshed token refused too is a refused grant (see ``vendor_client``), never decided
here. A 403 is the grant's reach: Exact documents a ``Reason`` header on it,
``NoDivisionAccess`` when the connected user has no access to the division in the URL —
their rights on that company were withdrawn in Exact, or the company was removed from
the app's permitted companies (Exact then says "User division is not within division
scope"). No token refresh can bring that back, so it is reported like a refused grant
(``AuthorizationLost``) and the documents wait for the user to reconnect.
"""

from __future__ import annotations

import httpx

from invoicesync_shared.connectors.errors import (
    AuthorizationLost,
    PermanentError,
    RateLimited,
    SyncError,
    TransientError,
    UnknownOutcome,
)
from invoicesync_shared.connectors.rate_limit import MINUTE, seconds_until
from invoicesync_shared.connectors.retry_after import retry_after as header_retry_after
from invoicesync_shared.states import IntegrationStatus

# Words in Exact's error messages (English and Dutch) → a code a bookkeeper can act on.
_MESSAGE_CODES = (
    (("journal", "dagboek"), "journal_missing"),
    (("vat", "btw"), "unknown_vat_code"),
    (("blocked", "geblokkeerd"), "customer_blocked"),
    (("period", "periode", "locked", "afgesloten"), "period_locked"),
    (("glaccount", "grootboek"), "gl_account_missing"),
)
# The same words in the refusal of a purchase entry name its supplier and purchase journal.
_PURCHASE_CODES = {
    "customer_blocked": "supplier_blocked",
    "journal_missing": "purchase_journal_missing",
}
DIVISION_ACCESS_WITHDRAWN = "division_access_withdrawn"
# Exact's text when the division is outside the companies the user allowed the app.
_OUT_OF_DIVISION_SCOPE = "not within division scope"
_FORBIDDEN_REASONS = {
    "DivisionBlocked": ("division_blocked", "This Exact division is blocked."),
    "BlockedCustomer": (
        "exact_customer_blocked",
        "The Exact subscription of this company is blocked.",
    ),
    "LicenseExpired": ("license_expired", "The Exact licence of this company has expired."),
}


def for_purchase(exc: PermanentError) -> PermanentError:
    """Exact's refusal of a purchase entry under the code a bookkeeper reads it by: the
    supplier (not a customer) is blocked, the purchase journal (not a sales one) is missing."""
    code = _PURCHASE_CODES.get(exc.code)
    return (
        exc
        if code is None or type(exc) is not PermanentError
        else PermanentError(code, exc.message)
    )


def error_message(response: httpx.Response) -> str:
    """Exact's own text: ``error.message.value``, else the raw body."""
    try:
        value = response.json()["error"]["message"]["value"]
        return " ".join(str(value).split())
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait: Retry-After, else the minutely window's reset (epoch ms)."""
    if (seconds := header_retry_after(response)) is not None:
        return seconds
    if reset := response.headers.get("X-RateLimit-Minutely-Reset"):
        try:
            return seconds_until(int(reset) / 1000, at_most=MINUTE) + 0.05
        except ValueError:
            pass
    return None


def classify(
    response: httpx.Response, *, is_write: bool, division: int | None = None
) -> SyncError | None:
    """None for success, else the decision the runtime acts on; ``division`` is the one
    the call was for (named in what the bookkeeper reads)."""
    status = response.status_code
    if status < 300:
        return None
    if status == 429:
        return RateLimited("Exact rate limit reached", retry_after=retry_after(response))
    if status >= 500:
        # A write may have been applied before the failure: look it up before resending.
        if is_write:
            return UnknownOutcome(f"Exact answered {status} to a write")
        return TransientError(f"Exact answered {status}", retry_after=retry_after(response))
    if status == 403:
        if _division_access_withdrawn(response):
            return division_access_withdrawn(division, error_message(response))
        code, message = _FORBIDDEN_REASONS.get(
            response.headers.get("Reason", ""), ("access_denied", "Exact refused access.")
        )
        return PermanentError(code, f"{message} ({error_message(response)})")
    return PermanentError(_code_for(error_message(response), status), error_message(response))


def counts_towards_block(failure: SyncError | None) -> bool:
    """Whether Exact counts an answer towards its hour-long block of the app, read from
    the decision on it (no status code is read outside ``classify``): its errors
    (400/401/403/404 in its documentation) are the refusals, ``PermanentError`` (a lost
    grant or division included); never a 429 (``RateLimited``) nor a 5xx."""
    return isinstance(failure, PermanentError)


def division_access_withdrawn(division: int | None, said: str) -> AuthorizationLost:
    """The connected user no longer reaches the division: status ``needs_reauthorization``,
    not ``error``, because the fix is the user's (restore the rights, or reconnect as a
    user who has them) and the reconnect flow is what brings the integration back."""
    which = f"division {division}" if division is not None else "the integration's division"
    return AuthorizationLost(
        f"The Exact user who connected this integration no longer has access to {which} "
        f"(Exact said: {said}). In Exact, give that user access to the company again "
        "(Companies: Access rights, and the app's permitted companies), or use a user who "
        "has it; then reconnect the integration",
        reason=DIVISION_ACCESS_WITHDRAWN,
        status=IntegrationStatus.NEEDS_REAUTHORIZATION,
        params={"division": str(division) if division is not None else "?", "said": said},
    )


def _division_access_withdrawn(response: httpx.Response) -> bool:
    if response.headers.get("Reason", "") == "NoDivisionAccess":
        return True
    return _OUT_OF_DIVISION_SCOPE in error_message(response).lower()


def _code_for(message: str, status: int) -> str:
    lowered = message.lower()
    for words, code in _MESSAGE_CODES:
        if any(word in lowered for word in words):
            return code
    return "not_found" if status == 404 else "rejected"
