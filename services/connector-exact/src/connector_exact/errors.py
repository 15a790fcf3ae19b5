"""The one place that reads Exact's status codes and error bodies."""

from __future__ import annotations

import time

import httpx

from invoicesync_shared.connectors.errors import (
    PermanentError,
    SyncError,
    TransientError,
    UnknownOutcome,
)

# Words in Exact's error messages (English and Dutch) → a code a bookkeeper can act on.
_MESSAGE_CODES = (
    (("journal", "dagboek"), "journal_missing"),
    (("vat", "btw"), "unknown_vat_code"),
    (("blocked", "geblokkeerd"), "customer_blocked"),
    (("period", "periode", "locked", "afgesloten"), "period_locked"),
    (("glaccount", "grootboek"), "gl_account_missing"),
)
_FORBIDDEN_REASONS = {
    "NoDivisionAccess": (
        "division_inaccessible",
        "The connected Exact user has no access to this division.",
    ),
    "DivisionBlocked": ("division_blocked", "This Exact division is blocked."),
    "BlockedCustomer": (
        "exact_customer_blocked",
        "The Exact subscription of this company is blocked.",
    ),
    "LicenseExpired": ("license_expired", "The Exact licence of this company has expired."),
}


def error_message(response: httpx.Response) -> str:
    """Exact's own text: ``error.message.value``, else the raw body."""
    try:
        value = response.json()["error"]["message"]["value"]
        return " ".join(str(value).split())
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait: Retry-After, else the minutely window's reset (epoch ms)."""
    if value := response.headers.get("Retry-After"):
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
    if reset := response.headers.get("X-RateLimit-Minutely-Reset"):
        try:
            return max(int(reset) / 1000 - time.time(), 0.0) + 0.05
        except ValueError:
            pass
    return None


def classify(response: httpx.Response, *, is_write: bool) -> SyncError | None:
    """None for success, else the decision the runtime acts on."""
    status = response.status_code
    if status < 300:
        return None
    if status == 429:
        return TransientError("Exact rate limit reached", retry_after=retry_after(response))
    if status >= 500:
        # A write may have been applied before the failure: look it up before resending.
        if is_write:
            return UnknownOutcome(f"Exact answered {status} to a write")
        return TransientError(f"Exact answered {status}", retry_after=retry_after(response))
    if status == 403:
        code, message = _FORBIDDEN_REASONS.get(
            response.headers.get("Reason", ""), ("access_denied", "Exact refused access.")
        )
        return PermanentError(code, f"{message} ({error_message(response)})")
    if status == 401:
        return PermanentError("unauthorized", "Exact did not accept the stored authorisation.")
    return PermanentError(_code_for(error_message(response), status), error_message(response))


def _code_for(message: str, status: int) -> str:
    lowered = message.lower()
    for words, code in _MESSAGE_CODES:
        if any(word in lowered for word in words):
            return code
    return "not_found" if status == 404 else "rejected"
